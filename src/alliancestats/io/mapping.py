"""Column roles: which source column becomes which standard column of the long frame.

A *role* is one standard column of :attr:`SessionData.data` (``patient``, ``alliance``,
``alliance_bond``, ``pain``, ``arm``, ...) together with the source column it comes from,
its kind (identifier, session, date, alliance, outcome, covariate), who rated it (alliance),
and the valid range used to flag out-of-range scores.

How ``alliance``, ``outcomes`` and ``covariates`` arguments become roles:

=====================================  ================================================
argument                               standard columns
=====================================  ================================================
``alliance="wai"``                     ``alliance``
``alliance={"total": "wai",``          ``alliance``, ``alliance_bond``
``"bond": "wai_b"}``
``alliance=["wai_p", "wai_t"]``        ``wai_p``, ``wai_t`` (names kept)
``outcomes="nrs"``                     ``nrs``
``outcomes={"pain": "nrs"}``           ``pain``
``outcomes=["pain", "odi"]``           ``pain``, ``odi``
``covariates={"arm": "group"}``        ``arm``
=====================================  ================================================

Examples
--------
>>> from alliancestats.io.mapping import build_roles
>>> roles = build_roles(patient="id", session="visit", alliance={"total": "wai", "bond": "b"},
...                     outcomes={"pain": "nrs"}, scales={"alliance": "wai_sr", "pain": (0, 10)})
>>> [(r.name, r.column, r.valid_range) for r in roles if r.kind != "id"][1:]
[('alliance', 'wai', (1.0, 5.0)), ('alliance_bond', 'b', (1.0, 5.0)), ('pain', 'nrs', (0.0, 10.0))]
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from alliancestats.errors import DataValidationError, ParameterError
from alliancestats.instruments.registry import get_instrument

__all__ = ["Role", "build_roles", "resolve_columns", "RESERVED", "RATERS", "roles_frame"]

#: Standard columns the loader creates itself; no role may take these names.
RESERVED = ("patient", "therapist", "session", "session_date", "days_since_first", "source_row")

#: Who can rate the alliance.
RATERS = ("patient", "therapist", "observer")

RoleArg = str | Sequence[str] | Mapping[str, str] | None


@dataclass(frozen=True)
class Role:
    """One standard column and where it comes from.

    Attributes
    ----------
    name : str
        Standard column name in :attr:`SessionData.data`.
    column : Any
        Column in the source (for wide data: the variable stem or an unrepeated column).
    kind : str
        ``"id"`` (patient, therapist), ``"session"``, ``"date"``, ``"alliance"``,
        ``"outcome"``, ``"covariate"`` or ``"scored"`` (computed from instrument items).
    rater : str or None
        ``"patient"``, ``"therapist"`` or ``"observer"`` for alliance roles.
    instrument : str or None
        Registry id the valid range was taken from.
    valid_range : tuple of float or None
        Inclusive (min, max); values outside are reported.
    """

    name: str
    column: Any
    kind: str
    rater: str | None = None
    instrument: str | None = None
    valid_range: tuple[float, float] | None = None

    @property
    def numeric(self) -> bool:
        """Whether values must be numbers."""
        return self.kind in ("alliance", "outcome", "scored")


def _as_pairs(arg: RoleArg, what: str, single_name: str | None) -> list[tuple[str, Any]]:
    if arg is None:
        return []
    if isinstance(arg, str) or not isinstance(arg, Mapping | Sequence):
        return [(single_name or str(arg), arg)]
    if isinstance(arg, Mapping):
        pairs = []
        for key, col in arg.items():
            if not isinstance(key, str) or not key:
                raise ParameterError(f"{what}= keys must be non-empty role names, got {key!r}")
            pairs.append((key, col))
        return pairs
    pairs = []
    for col in arg:
        pairs.append((str(col), col))
    return pairs


def _alliance_name(key: str, from_mapping: bool) -> str:
    if not from_mapping:
        return key
    if key in ("total", "alliance"):
        return "alliance"
    return key if key.startswith("alliance_") else f"alliance_{key}"


def build_roles(
    *,
    patient: Any,
    session: Any = None,
    therapist: Any = None,
    date: Any = None,
    alliance: RoleArg = None,
    outcomes: RoleArg = None,
    covariates: RoleArg = None,
    alliance_rater: str | Mapping[str, str] | None = None,
    scales: Mapping[str, Any] | None = None,
) -> list[Role]:
    """Turn the loader's column arguments into a list of :class:`Role`.

    Parameters
    ----------
    patient, session, therapist, date : column name
        Identifier, session and date columns (``session`` may itself be a date column).
    alliance, outcomes, covariates : str, list of str or dict
        See the module docstring for the naming rule.
    alliance_rater : str or dict, optional
        Rater of every alliance column, or standard name -> rater.
    scales : dict, optional
        Standard name -> instrument id (``"wai_sr"``, ``"nrs"``; append ``":sum"`` when
        a mean-scored instrument was entered as sums) or an explicit ``(min, max)``.
        Alliance subscale columns (``alliance_bond``) inherit the range of the instrument
        given for ``alliance``.

    Returns
    -------
    list of Role

    Raises
    ------
    ValueError
        For duplicate standard names, reserved names, unknown raters or scales.

    Examples
    --------
    >>> [r.name for r in build_roles(patient="id", session="s", covariates=["arm"])]
    ['patient', 'session', 'arm']
    """
    if patient is None:
        raise ParameterError("patient= is required: the column holding the patient identifier")
    roles = [Role("patient", patient, "id")]
    if therapist is not None:
        roles.append(Role("therapist", therapist, "id"))
    if session is not None:
        roles.append(Role("session", session, "session"))
    if date is not None:
        roles.append(Role("session_date", date, "date"))
    from_mapping = isinstance(alliance, Mapping)
    for key, col in _as_pairs(alliance, "alliance", "alliance"):
        roles.append(Role(_alliance_name(key, from_mapping), col, "alliance"))
    for key, col in _as_pairs(outcomes, "outcomes", None):
        roles.append(Role(key, col, "outcome"))
    for key, col in _as_pairs(covariates, "covariates", None):
        roles.append(Role(key, col, "covariate"))
    _check_names(roles)
    roles = _apply_raters(roles, alliance_rater)
    return _apply_scales(roles, scales or {})


def _check_names(roles: list[Role]) -> None:
    seen: dict[str, Role] = {}
    for r in roles:
        if r.kind not in ("id", "session", "date") and r.name in RESERVED:
            raise ParameterError(
                f"{r.name!r} is a standard column made by the loader; give the {r.kind} "
                f"column {r.column!r} another name, e.g. {{'{r.name}_{r.kind}': {r.column!r}}}"
            )
        if r.name in seen:
            raise ParameterError(
                f"two columns would both be called {r.name!r} (from {seen[r.name].column!r} "
                f"and {r.column!r}); use a dict to name them, e.g. outcomes={{'pain': ...}}"
            )
        seen[r.name] = r
    by_column: dict[Any, Role] = {}
    for r in roles:
        key = (type(r.column).__name__, str(r.column))
        if key in by_column and not (by_column[key].kind == "session" and r.kind == "date"):
            raise ParameterError(
                f"column {r.column!r} is mapped twice ({by_column[key].name!r} and {r.name!r})"
            )
        by_column[key] = r


def _apply_raters(roles: list[Role], rater: str | Mapping[str, str] | None) -> list[Role]:
    if rater is None:
        return roles
    names = {r.name for r in roles if r.kind == "alliance"}
    if isinstance(rater, str):
        mapping = dict.fromkeys(names, rater)
    else:
        mapping = dict(rater)
        unknown = set(mapping) - names
        if unknown:
            raise ParameterError(
                f"alliance_rater names {sorted(unknown)} are not alliance columns; "
                f"the alliance columns are {sorted(names)}"
            )
    for v in mapping.values():
        if v not in RATERS:
            raise ParameterError(f"alliance rater must be one of {RATERS}, not {v!r}")
    return [replace(r, rater=mapping.get(r.name)) if r.kind == "alliance" else r for r in roles]


def scale_range(spec: Any, subscale: str | None = None) -> tuple[tuple[float, float], str | None]:
    """Valid range from a scale spec: an instrument id (optionally ``":sum"``/``":mean"``)
    or an explicit ``(min, max)``. Returns ``(range, instrument_id)``.

    Examples
    --------
    >>> scale_range((0, 10))
    ((0.0, 10.0), None)
    >>> scale_range("wai_sr:sum", "bond")
    ((4.0, 20.0), 'wai_sr')
    """
    if isinstance(spec, tuple | list) and len(spec) == 2:
        lo, hi = float(spec[0]), float(spec[1])
        if not lo <= hi:
            raise ParameterError(f"a range must be (min, max) with min <= max, got {spec!r}")
        return (lo, hi), None
    if not isinstance(spec, str):
        raise ParameterError(f"scales values are instrument ids or (min, max) tuples, not {spec!r}")
    inst_id, _, how = spec.partition(":")
    inst = get_instrument(inst_id)
    if how not in ("", "mean", "sum"):
        raise ParameterError(f"scale suffix must be ':mean' or ':sum', not {how!r} in {spec!r}")
    n_items = None
    if subscale is not None:
        if subscale not in inst.subscales:
            raise ParameterError(
                f"{inst.id} has no subscale {subscale!r}; its subscales are "
                f"{sorted(inst.subscales) or 'none'}"
            )
        n_items = len(inst.subscales[subscale])
    elif inst.n_items is not None:
        n_items = inst.n_items
    scoring = how or inst.scoring
    if scoring == "mean":
        return (inst.item_min, inst.item_max), inst.id
    if scoring == "sum" and n_items is not None:
        return (n_items * inst.item_min, n_items * inst.item_max), inst.id
    if subscale is not None:
        raise ParameterError(
            f"cannot derive the range of {inst.id} subscale {subscale!r}; give it explicitly "
            f"in scales=, e.g. {{'alliance_{subscale}': (min, max)}}"
        )
    return (inst.score_min, inst.score_max), inst.id


def _apply_scales(roles: list[Role], scales: Mapping[str, Any]) -> list[Role]:
    names = {r.name for r in roles}
    unknown = [k for k in scales if k not in names]
    if unknown:
        raise ParameterError(
            f"scales= names {unknown} are not columns being loaded; use standard names "
            f"such as {sorted(r.name for r in roles if r.numeric)} (instruments scored from "
            "items with instruments= are range-checked item by item already)"
        )
    out = []
    for r in roles:
        if r.name in scales:
            if not r.numeric:
                raise ParameterError(
                    f"scales= applies to alliance and outcome columns, not {r.name!r}"
                )
            rng, inst = scale_range(scales[r.name])
            out.append(replace(r, valid_range=rng, instrument=inst))
        elif r.kind == "alliance" and r.name.startswith("alliance_") and "alliance" in scales:
            spec = scales["alliance"]
            sub = r.name[len("alliance_") :]
            if isinstance(spec, str) and _has_subscale(spec, sub):
                rng, inst = scale_range(spec, sub)
            else:  # not a subscale (e.g. a second rater): same range as the total
                rng, inst = scale_range(spec)
            out.append(replace(r, valid_range=rng, instrument=inst))
        else:
            out.append(r)
    return out


def _has_subscale(spec: str, sub: str) -> bool:
    return sub in get_instrument(spec.partition(":")[0]).subscales


def resolve_columns(roles: list[Role], available: Sequence[Any], *, where: str) -> list[Role]:
    """Match each role's column to an available column name.

    An exact match wins; otherwise a unique match ignoring case and surrounding spaces is
    used. All unmatched columns are reported together with suggestions.

    Raises
    ------
    DataValidationError
        Listing every column that was not found.

    Examples
    --------
    >>> r = resolve_columns([Role("patient", "ID", "id")], ["id ", "pain"], where="the file")
    >>> r[0].column
    'id '
    """
    avail = list(available)
    folded: dict[str, list[Any]] = {}
    for a in avail:
        folded.setdefault(str(a).strip().casefold(), []).append(a)
    out, missing = [], []
    for r in roles:
        if r.column in avail:
            out.append(r)
            continue
        cands = folded.get(str(r.column).strip().casefold(), [])
        if len(cands) == 1:
            out.append(replace(r, column=cands[0]))
        else:
            missing.append(r)
    if missing:
        lines = []
        names = [str(a) for a in avail]
        for r in missing:
            close = difflib.get_close_matches(str(r.column), names, n=3, cutoff=0.6)
            hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
            lines.append(f"  {r.name}: column {r.column!r} not found{hint}")
        shown = ", ".join(map(repr, names[:30])) + (" ..." if len(names) > 30 else "")
        problems = pd.DataFrame(
            {
                "file": [where] * len(missing),
                "row": [None] * len(missing),
                "column": [r.column for r in missing],
                "value": [None] * len(missing),
                "reason": [f"column for {r.name!r} not found" for r in missing],
                "kind": ["missing_column"] * len(missing),
            }
        )
        raise DataValidationError(
            f"{len(missing)} column(s) not found in {where}:\n"
            + "\n".join(lines)
            + f"\nAvailable columns: {shown}",
            problems,
        )
    return out


def roles_frame(roles: list[Role], labels: Mapping[Any, str] | None = None) -> pd.DataFrame:
    """Tidy table of the mapping: one row per standard column.

    Examples
    --------
    >>> roles_frame([Role("patient", "id", "id")]).columns.tolist()
    ['name', 'kind', 'source_column', 'rater', 'instrument', 'min', 'max', 'label']
    """
    labels = labels or {}
    return pd.DataFrame(
        {
            "name": [r.name for r in roles],
            "kind": [r.kind for r in roles],
            "source_column": pd.Series([r.column for r in roles], dtype=object),
            "rater": pd.Series([r.rater for r in roles], dtype=object),
            "instrument": pd.Series([r.instrument for r in roles], dtype=object),
            "min": [r.valid_range[0] if r.valid_range else float("nan") for r in roles],
            "max": [r.valid_range[1] if r.valid_range else float("nan") for r in roles],
            "label": pd.Series([labels.get(r.column) for r in roles], dtype=object),
        }
    )
