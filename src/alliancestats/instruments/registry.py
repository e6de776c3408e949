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

import math
import numbers
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any

import pandas as pd

from alliancestats.errors import InstrumentError

__all__ = [
    "CONSTRUCTS",
    "SCORING_METHODS",
    "Instrument",
    "get_instrument",
    "instruments",
    "register_instrument",
    "unregister_instrument",
]

#: Constructs an instrument may measure.
CONSTRUCTS = ("alliance", "pain", "function", "adherence", "global")

#: How the main score is computed from the items (see :mod:`.scoring`).
#:
#: - ``"mean"``: mean of the (reverse-keyed) items; ``scale="sum"`` gives the sum instead.
#: - ``"sum"``: sum of the items (SRS, EARS, RMDQ counts of "yes").
#: - ``"percent_of_answered"``: sum / (item_max x answered) x ``score_max`` (ODI, NDI).
#: - ``"quickdash"``: ((sum / answered) - 1) x 25 (Beaton et al. 2005).
#: - ``"single"``: the single item itself (NRS, VAS, GPE).
#: - ``"ratio"``: first item / second item (attendance, exercises done of prescribed).
SCORING_METHODS = ("mean", "sum", "percent_of_answered", "quickdash", "single", "ratio")


def _item_numbers(values: Any) -> tuple[int, ...]:
    """Whole item numbers from a list; text ("123") and fractions (2.5) are refused."""
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise TypeError(f"give item numbers as a list such as [1, 2, 3], not {values!r}")
    out = []
    for i in values:
        if isinstance(i, bool) or not isinstance(i, numbers.Real) or not float(i).is_integer():
            raise ValueError(f"item numbers must be whole numbers, got {i!r}")
        out.append(int(i))
    return tuple(out)


def _freeze_subscales(subscales: Mapping[str, Iterable[int]] | None) -> Mapping[str, tuple]:
    frozen = {str(k): _item_numbers(v) for k, v in (subscales or {}).items()}
    return MappingProxyType(frozen)


@dataclass(frozen=True)
class Instrument:
    """Structure and scoring rules of one instrument (no item wording).

    Parameters
    ----------
    id : str
        Lower-case identifier used everywhere (``"wai_sr"``, ``"odi"``, ...).
    name : str
        Full name with version.
    construct : str
        One of :data:`CONSTRUCTS`.
    n_items : int or None
        Number of items; ``None`` when variable (PSFS: 3-5 patient-chosen activities).
    item_min, item_max : float
        Response range of every item.
    score_min, score_max : float
        Range of the main score as scored by default.
    scoring : str
        One of :data:`SCORING_METHODS`.
    subscales : mapping of str to tuple of int
        Subscale name -> 1-based item numbers.
    reverse_items : tuple of int
        1-based numbers of reverse-keyed items; reversed as ``item_min + item_max - x``.
    higher_is_better : bool
        Direction of the main score (``False`` for pain and disability).
    max_missing : int or None
        Largest number of missing items for which the score is still computed
        (0 = complete cases only; ``None`` = any number as long as one item is answered).
    min_items, max_items : int or None
        For variable-length instruments (PSFS), the allowed number of item columns.
    blank_means : float or None
        Value a blank item takes (RMDQ checklist: blank = "no" = 0); ``None`` = missing.
    integer_items : bool
        Items are whole numbers (categorical responses); fractional values are flagged.
    missing_rule : str
        The missing-item rule in words, for tables and documentation.
    reliability : float or None
        Default reliability ``r_xx`` for the reliable change index, only when sourced.
    reliability_source : str or None
        Citation of ``reliability``.
    mcid : float or None
        Minimal important change in score points (absolute).
    mcid_percent : float or None
        Minimal important change as percent of the baseline score.
    mcid_kind : str or None
        What the threshold is (``"MCID"``, ``"MDC90"``, ``"MIC"``).
    mcid_source : str or None
        Citation of the thresholds.
    citation : str
        Primary source of the instrument's structure and scoring.
    key_verified : bool
        Whether the reverse keys and subscales were checked against a primary source.
    key_required : bool
        The key is not shipped: :func:`~alliancestats.instruments.score` requires ``key=``.
    cutoff : float or None
        Clinical cut-off of the main score (SRS: 36), if any.
    cutoff_source : str or None
        Citation of ``cutoff``.
    notes : str
        Anything else a user should know (e.g. why a key is unverified).
    builtin : bool
        ``True`` for instruments shipped with alliancestats.

    Examples
    --------
    >>> from alliancestats.instruments import Instrument
    >>> inst = Instrument(id="my_nrs", name="Pain NRS (local)", construct="pain", n_items=1,
    ...                   item_min=0, item_max=10, score_min=0, score_max=10, scoring="single",
    ...                   higher_is_better=False)
    >>> inst.reverse_items, inst.key_verified
    ((), True)
    """

    id: str
    name: str
    construct: str
    n_items: int | None
    item_min: float
    item_max: float
    score_min: float
    score_max: float
    scoring: str = "mean"
    subscales: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    reverse_items: tuple[int, ...] = ()
    higher_is_better: bool = True
    max_missing: int | None = 0
    min_items: int | None = None
    max_items: int | None = None
    blank_means: float | None = None
    integer_items: bool = True
    missing_rule: str = "all items required"
    reliability: float | None = None
    reliability_source: str | None = None
    mcid: float | None = None
    mcid_percent: float | None = None
    mcid_kind: str | None = None
    mcid_source: str | None = None
    citation: str = ""
    key_verified: bool = True
    key_required: bool = False
    cutoff: float | None = None
    cutoff_source: str | None = None
    notes: str = ""
    builtin: bool = False

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "subscales", _freeze_subscales(self.subscales))
            object.__setattr__(self, "reverse_items", _item_numbers(self.reverse_items))
            for name in ("item_min", "item_max", "score_min", "score_max"):
                object.__setattr__(self, name, float(getattr(self, name)))
            for name in ("n_items", "min_items", "max_items", "max_missing"):
                value = getattr(self, name)
                if isinstance(value, numbers.Integral) and not isinstance(value, bool):
                    object.__setattr__(self, name, int(value))
        except (TypeError, ValueError) as exc:
            raise InstrumentError(
                f"instrument {self.id!r}: item numbers must be integers and ranges numbers ({exc})"
            ) from None
        _validate(self)

    def __hash__(self) -> int:
        return hash((self.id, self.name, self.n_items, self.reverse_items))

    @property
    def item_range(self) -> tuple[float, float]:
        """``(item_min, item_max)``."""
        return (self.item_min, self.item_max)

    @property
    def score_range(self) -> tuple[float, float]:
        """``(score_min, score_max)`` of the main score as scored by default."""
        return (self.score_min, self.score_max)

    @property
    def items(self) -> tuple[int, ...]:
        """1-based item numbers (for variable-length instruments, up to ``max_items``)."""
        n = self.n_items if self.n_items is not None else (self.max_items or 0)
        return tuple(range(1, n + 1))

    def with_key(
        self,
        reverse_items: Iterable[int] | None = None,
        subscales: Mapping[str, Iterable[int]] | None = None,
    ) -> Instrument:
        """Return a copy with a user-supplied key (validated like any instrument).

        Examples
        --------
        >>> from alliancestats.instruments import get_instrument
        >>> haq = get_instrument("haq_ii").with_key(reverse_items=[4, 8])
        >>> haq.reverse_items, haq.key_required
        ((4, 8), False)
        """
        changes: dict[str, Any] = {"key_required": False}
        if reverse_items is not None:
            changes["reverse_items"] = tuple(reverse_items)
        if subscales is not None:
            changes["subscales"] = dict(subscales)
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict view (subscales as a dict of tuples)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["subscales"] = dict(self.subscales)
        return out


def _fail(inst_id: str, message: str) -> None:
    raise InstrumentError(f"instrument {inst_id!r}: {message}")


def _validate(inst: Instrument) -> None:
    """Check an instrument definition for internal consistency; raise InstrumentError."""
    iid = inst.id
    if not isinstance(iid, str) or not iid or iid != iid.strip():
        raise InstrumentError(f"instrument id must be a non-empty string, got {iid!r}")
    if inst.construct not in CONSTRUCTS:
        _fail(iid, f"construct must be one of {CONSTRUCTS}, got {inst.construct!r}")
    if inst.scoring not in SCORING_METHODS:
        _fail(iid, f"scoring must be one of {SCORING_METHODS}, got {inst.scoring!r}")
    for name in ("item_min", "item_max", "score_min", "score_max"):
        value = getattr(inst, name)
        unbounded_count = name == "item_max" and inst.scoring == "ratio" and value == math.inf
        if not (math.isfinite(value) or unbounded_count):
            _fail(iid, f"{name} must be finite, got {value}")
    if not inst.item_min < inst.item_max:
        _fail(iid, f"item_min ({inst.item_min}) must be below item_max ({inst.item_max})")
    if not inst.score_min < inst.score_max:
        _fail(iid, f"score_min ({inst.score_min}) must be below score_max ({inst.score_max})")
    if inst.n_items is None:
        if inst.max_items is None or inst.min_items is None:
            _fail(iid, "a variable-length instrument (n_items=None) needs min_items and max_items")
        if not 1 <= inst.min_items <= inst.max_items:
            _fail(iid, f"need 1 <= min_items <= max_items, got {inst.min_items}, {inst.max_items}")
        n_max = inst.max_items
    else:
        if not isinstance(inst.n_items, int) or inst.n_items < 1:
            _fail(iid, f"n_items must be a positive integer or None, got {inst.n_items!r}")
        n_max = inst.n_items
    if inst.scoring == "single" and inst.n_items != 1:
        _fail(iid, "scoring='single' needs n_items=1")
    if inst.scoring == "ratio" and inst.n_items not in (1, 2):
        _fail(iid, "scoring='ratio' needs n_items=2 (numerator, denominator) or 1 (yes/no)")
    for item in inst.reverse_items:
        if not 1 <= item <= n_max:
            _fail(iid, f"reverse item {item} is outside items 1..{n_max}")
    if len(set(inst.reverse_items)) != len(inst.reverse_items):
        _fail(iid, f"reverse_items has duplicates: {inst.reverse_items}")
    for sub, members in inst.subscales.items():
        if not members:
            _fail(iid, f"subscale {sub!r} has no items")
        bad = [i for i in members if not 1 <= i <= n_max]
        if bad:
            _fail(iid, f"subscale {sub!r} refers to items {bad} outside 1..{n_max}")
        if len(set(members)) != len(members):
            _fail(iid, f"subscale {sub!r} lists an item twice: {members}")
        if sub in ("total", "percent") or sub.startswith("n_"):
            _fail(iid, f"subscale name {sub!r} clashes with a score column name")
    if inst.max_missing is not None and inst.max_missing < 0:
        _fail(iid, f"max_missing must be >= 0 or None, got {inst.max_missing}")
    if (
        inst.max_missing is not None
        and inst.n_items is not None
        and inst.blank_means is None
        and inst.max_missing >= inst.n_items
    ):
        _fail(
            iid,
            f"max_missing ({inst.max_missing}) must be below n_items ({inst.n_items}): at least "
            "one item has to be answered for a score",
        )
    if inst.blank_means is not None and not inst.item_min <= inst.blank_means <= inst.item_max:
        _fail(iid, f"blank_means={inst.blank_means} is outside the item range")
    if inst.reliability is not None and not 0 < inst.reliability < 1:
        _fail(iid, f"reliability must lie in (0, 1), got {inst.reliability}")
    for name in ("mcid", "mcid_percent"):
        value = getattr(inst, name)
        if value is not None and not (math.isfinite(value) and value > 0):
            _fail(iid, f"{name} must be positive, got {value}")
    if inst.mcid_percent is not None and inst.mcid_percent >= 100:
        _fail(iid, f"mcid_percent must be below 100, got {inst.mcid_percent}")


# --------------------------------------------------------------------------- registry state

_REGISTRY: dict[str, Instrument] = {}
_LOADED = False


def _registry() -> dict[str, Instrument]:
    global _LOADED
    if not _LOADED:
        from alliancestats.instruments.definitions import BUILTIN_INSTRUMENTS

        for inst in BUILTIN_INSTRUMENTS:
            _REGISTRY.setdefault(inst.id, inst)
        _LOADED = True
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

    Examples
    --------
    >>> from alliancestats.instruments.registry import unregister_instrument
    >>> unregister_instrument("not_there")
    Traceback (most recent call last):
    ...
    alliancestats.errors.InstrumentError: no user-registered instrument 'not_there'
    """
    from alliancestats.instruments.definitions import BUILTIN_INSTRUMENTS

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
    "cutoff_source",
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
        key_verified, key_required, cutoff, cutoff_source, citation, builtin, notes``. ``subscales`` is text such as
        ``"task: 1,2,10,12; goal: ..."``; ``reverse_items`` is text such as ``"4,8"``.

    Examples
    --------
    >>> from alliancestats.instruments import instruments
    >>> tab = instruments()
    >>> tab.set_index("id").loc["odi", ["score_max", "mcid", "mcid_percent"]].tolist()
    [100.0, 10.0, 30.0]
    >>> sorted(instruments("alliance")["id"])
    ['haq_ii', 'srs', 'wai', 'wai_s', 'wai_sr']
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
    for col in ("reliability", "mcid", "mcid_percent", "cutoff"):
        table[col] = pd.to_numeric(table[col]).astype(float)
    return table.sort_values("id", ignore_index=True)
