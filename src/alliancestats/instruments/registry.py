"""The instrument registry: what each questionnaire looks like and how it is scored.

An :class:`Instrument` records only *structure* — number of items, response range, subscale
membership (1-based item numbers), reverse-keyed items, the missing-item rule, a default
reliability and the minimal important change with its source. No item wording is stored
anywhere in alliancestats: the items are copyrighted, the scoring keys are published facts.

Built-in instruments are defined in :mod:`alliancestats.instruments.definitions`; users add
local adaptations with :func:`register_instrument`. Look-ups go through :func:`get_instrument`,
which raises :class:`~alliancestats.errors.InstrumentError` for unknown ids.

Examples
--------
>>> from alliancestats.instruments.registry import get_instrument
>>> wai = get_instrument("wai_sr")
>>> wai.n_items, wai.item_min, wai.item_max
(12, 1.0, 5.0)
>>> wai.subscales["task"]
(1, 2, 10, 12)
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pandas as pd

from alliancestats.errors import InstrumentError
from alliancestats.instruments.definitions import BUILTIN_INSTRUMENTS
from alliancestats.instruments.instrument import CONSTRUCTS, SCORING_METHODS, Instrument

__all__ = [
    "CONSTRUCTS",
    "SCORING_METHODS",
    "Instrument",
    "get_instrument",
    "instruments",
    "register_instrument",
    "unregister_instrument",
]

# --------------------------------------------------------------------------- registry state

_REGISTRY: dict[str, Instrument] = {inst.id: inst for inst in BUILTIN_INSTRUMENTS}


def _registry() -> dict[str, Instrument]:
    return _REGISTRY


def get_instrument(id: str | Instrument) -> Instrument:
    """Look up an instrument by id (an :class:`Instrument` is returned unchanged).

    Parameters
    ----------
    id : str or Instrument
        Instrument id, case-insensitive (``"wai_sr"``, ``"ODI"``, ...).

    Returns
    -------
    Instrument

    Raises
    ------
    InstrumentError
        For an unknown id; the message lists the known ids.

    Examples
    --------
    >>> from alliancestats.instruments import get_instrument
    >>> get_instrument("ODI").score_max
    100.0
    >>> get_instrument("haq")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    alliancestats.errors.InstrumentError: unknown instrument 'haq'; known instruments: ...
    """
    if isinstance(id, Instrument):
        return id
    reg = _registry()
    key = str(id).strip().lower().replace("-", "_")
    if key not in reg and str(id) in reg:
        key = str(id)
    if key not in reg:
        known = ", ".join(sorted(reg))
        raise InstrumentError(f"unknown instrument {id!r}; known instruments: {known}")
    return reg[key]


def register_instrument(
    instrument: Instrument | None = None, *, overwrite: bool = False, **definition: Any
) -> Instrument:
    """Add an instrument (e.g. a local or translated adaptation) to the registry.

    The definition goes through the same checks as the built-ins: item numbers in subscales
    and reverse items must lie within 1..n_items, ranges must be finite and ordered, and so on.

    Parameters
    ----------
    instrument : Instrument, optional
        A ready definition. Alternatively pass the :class:`Instrument` fields as keywords.
    overwrite : bool, default False
        Allow replacing an existing id. A built-in is never replaced silently: without
        ``overwrite=True`` re-using its id raises :class:`InstrumentError`.
    **definition
        :class:`Instrument` fields when ``instrument`` is not given.

    Returns
    -------
    Instrument
        The registered definition (``builtin=False``).

    Raises
    ------
    InstrumentError
        If the definition is inconsistent or the id is taken and ``overwrite`` is False.

    Examples
    --------
    >>> from alliancestats.instruments import register_instrument, get_instrument
    >>> inst = register_instrument(
    ...     id="odi_de", name="ODI (German adaptation)", construct="function", n_items=10,
    ...     item_min=0, item_max=5, score_min=0, score_max=100, scoring="percent_of_answered",
    ...     higher_is_better=False, max_missing=1)
    >>> get_instrument("odi_de").name
    'ODI (German adaptation)'
    >>> register_instrument(id="odi", name="x", construct="function", n_items=10, item_min=0,
    ...     item_max=5, score_min=0, score_max=100)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    alliancestats.errors.InstrumentError: instrument 'odi' already exists (built-in)...
    >>> from alliancestats.instruments.registry import unregister_instrument
    >>> unregister_instrument("odi_de")
    """
    if instrument is None:
        if not definition:
            raise InstrumentError("register_instrument needs an Instrument or its fields")
        definition = dict(definition)
        definition["id"] = str(definition.get("id", "")).strip().lower()
        definition["builtin"] = False
        try:
            instrument = Instrument(**definition)
        except TypeError as exc:
            raise InstrumentError(f"invalid instrument fields: {exc}") from None
    else:
        if definition:
            raise InstrumentError("pass either an Instrument or keyword fields, not both")
        if not isinstance(instrument, Instrument):
            raise InstrumentError(f"expected an Instrument, got {type(instrument).__name__}")
        instrument = replace(instrument, id=instrument.id.strip().lower(), builtin=False)
    if not re.fullmatch(r"[a-z][a-z0-9_]*", instrument.id):
        raise InstrumentError(
            f"instrument id {instrument.id!r} must be lower-case letters, digits and "
            "underscores, starting with a letter (e.g. 'odi_de')"
        )
    reg = _registry()
    existing = reg.get(instrument.id)
    if existing is not None and not overwrite:
        kind = "built-in" if existing.builtin else "user-registered"
        raise InstrumentError(
            f"instrument {instrument.id!r} already exists ({kind}); choose a new id for a "
            "local adaptation (e.g. 'odi_de') or pass overwrite=True to replace it"
        )
    reg[instrument.id] = instrument
    return instrument


def unregister_instrument(id: str) -> None:
    """Remove a user-registered instrument; built-ins are restored, not deleted.

    Parameters
    ----------
    id : str
        The instrument's id.

    Examples
    --------
    >>> from alliancestats.instruments.registry import unregister_instrument
    >>> unregister_instrument("not_there")
    Traceback (most recent call last):
    ...
    alliancestats.errors.InstrumentError: no user-registered instrument 'not_there'
    """
    reg = _registry()
    key = str(id).strip().lower()
    current = reg.get(key)
    if current is None or current.builtin:
        raise InstrumentError(f"no user-registered instrument {id!r}")
    builtins = {inst.id: inst for inst in BUILTIN_INSTRUMENTS}
    if key in builtins:
        reg[key] = builtins[key]
    else:
        del reg[key]


_TABLE_COLUMNS = [
    "id",
    "name",
    "construct",
    "n_items",
    "item_min",
    "item_max",
    "score_min",
    "score_max",
    "scoring",
    "subscales",
    "reverse_items",
    "higher_is_better",
    "missing_rule",
    "max_missing",
    "reliability",
    "reliability_source",
    "mcid",
    "mcid_percent",
    "mcid_kind",
    "mcid_source",
    "key_verified",
    "key_required",
    "cutoff",
    "cutoff_rule",
    "cutoff_source",
    "rci",
    "rci_source",
    "thresholds_verified",
    "citation",
    "builtin",
    "notes",
]


def instruments(construct: str | None = None) -> pd.DataFrame:
    """The registry as a tidy DataFrame, one row per instrument.

    Parameters
    ----------
    construct : str, optional
        Keep only instruments of this construct (``"alliance"``, ``"pain"``, ``"function"``,
        ``"adherence"``, ``"global"``).

    Returns
    -------
    pandas.DataFrame
        Columns ``id, name, construct, n_items, item_min, item_max, score_min, score_max,
        scoring, subscales, reverse_items, higher_is_better, missing_rule, max_missing,
        reliability, reliability_source, mcid, mcid_percent, mcid_kind, mcid_source,
        key_verified, key_required, cutoff, cutoff_rule, cutoff_source, rci, rci_source,
        thresholds_verified, citation, builtin, notes``. ``subscales`` is text such as
        ``"task: 1,2,10,12; goal: ..."``; ``reverse_items`` is text such as ``"4,8"``.

    Examples
    --------
    >>> from alliancestats.instruments import instruments
    >>> tab = instruments()
    >>> tab.set_index("id").loc["odi", ["score_max", "mcid", "mcid_percent"]].tolist()
    [100.0, 10.0, 30.0]
    >>> sorted(instruments("alliance")["id"])
    ['haq_ii', 'srs', 'wai', 'wai_s', 'wai_sr']
    >>> tab.set_index("id").loc[["oq45", "ors", "srs"], ["cutoff", "cutoff_rule", "rci"]]
          cutoff cutoff_rule   rci
    id
    oq45     NaN          >=  14.0
    ors     25.0           <   5.0
    srs     36.0           <   NaN
    """
    reg = _registry()
    if construct is not None and construct not in CONSTRUCTS:
        raise InstrumentError(f"construct must be one of {CONSTRUCTS}, got {construct!r}")
    rows = []
    for inst in reg.values():
        if construct is not None and inst.construct != construct:
            continue
        row = {c: getattr(inst, c) for c in _TABLE_COLUMNS}
        row["subscales"] = "; ".join(
            f"{name}: {','.join(map(str, items))}" for name, items in inst.subscales.items()
        )
        row["reverse_items"] = ",".join(map(str, inst.reverse_items))
        rows.append(row)
    table = pd.DataFrame(rows, columns=_TABLE_COLUMNS)
    table["n_items"] = table["n_items"].astype("Int64")
    table["max_missing"] = table["max_missing"].astype("Int64")
    for col in ("reliability", "mcid", "mcid_percent", "cutoff", "rci"):
        table[col] = pd.to_numeric(table[col]).astype(float)
    return table.sort_values("id", ignore_index=True)
