"""What an instrument is: structure, scoring rule, thresholds (never item wording).

An :class:`Instrument` records only *structure* — number of items, response range, subscale
membership (1-based item numbers), reverse-keyed items, the missing-item rule, a default
reliability, the minimal important change, the clinical cut-off and reliable change index with
their sources. The items are copyrighted; the scoring keys and thresholds are published facts.
Definitions are checked for internal consistency when created.

This module sits at the bottom of the instruments package: the built-in definitions
(:mod:`.definitions`) and the registry (:mod:`.registry`) both import it, never each other in
a circle.

Examples
--------
>>> inst = Instrument(id="my_nrs", name="Pain NRS (local)", construct="pain", n_items=1,
...                   item_min=0, item_max=10, score_min=0, score_max=10, scoring="single",
...                   higher_is_better=False)
>>> inst.score_range
(0.0, 10.0)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any

from alliancestats.errors import InstrumentError

__all__ = ["CONSTRUCTS", "CUTOFF_RULES", "SCORING_METHODS", "Instrument"]

#: Constructs an instrument may measure ("distress": symptom measures such as the OQ-45,
#: higher = worse; "wellbeing": measures such as the ORS, higher = better).
CONSTRUCTS = ("alliance", "pain", "function", "adherence", "global", "distress", "wellbeing")

#: How a total compares with ``cutoff`` to lie on the clinical (alert) side: ``"<"`` for
#: "below the cut-off" (SRS, ORS), ``">="`` for "at or above" (distress scales).
CUTOFF_RULES = ("<", "<=", ">", ">=")

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
    cutoff_rule : str
        One of :data:`CUTOFF_RULES`: how a total compares with ``cutoff`` to lie on the
        clinical (alert) side (SRS: ``"<"``; sources differ on ``<`` versus ``<=``, so the
        choice is explicit and :func:`~alliancestats.instruments.score` can change it).
    rci : float or None
        Reliable change index in score points (a change at least this large is reliable),
        as published for routine outcome monitoring (OQ-45: 14, ORS: 5).
    rci_source : str or None
        Citation of ``rci``.
    thresholds_verified : bool
        Whether ``cutoff`` and ``rci`` were checked against a primary source; when ``False``
        the docs and :func:`~alliancestats.instruments.instruments` say so, and
        :meth:`with_thresholds` or ``score(..., cutoff=)`` override them.
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
    cutoff_rule: str = "<"
    rci: float | None = None
    rci_source: str | None = None
    thresholds_verified: bool = True

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "subscales", _freeze_subscales(self.subscales))
            object.__setattr__(self, "reverse_items", _item_numbers(self.reverse_items))
            for name in ("item_min", "item_max", "score_min", "score_max"):
                object.__setattr__(self, name, float(getattr(self, name)))
            for name in ("cutoff", "rci"):
                if getattr(self, name) is not None:
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

        Parameters
        ----------
        reverse_items : iterable of int, optional
            Item numbers (1-based) scored in reverse.
        subscales : mapping of str to iterable of int, optional
            Subscale name to its item numbers.

        Returns
        -------
        Instrument
            The keyed copy; the registered instrument is unchanged.

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

    def with_thresholds(
        self,
        cutoff: float | None = None,
        cutoff_rule: str | None = None,
        rci: float | None = None,
    ) -> Instrument:
        """Return a copy with your own clinical cut-off, cut-off rule or reliable change index.

        Parameters
        ----------
        cutoff : float, optional
            Clinical cut-off score.
        cutoff_rule : str, optional
            How a score is compared with the cut-off (``"<"`` or ``"<="``).
        rci : float, optional
            Reliable change index in score points.

        Returns
        -------
        Instrument
            The copy; the registered instrument is unchanged.

        Examples
        --------
        >>> from alliancestats.instruments import get_instrument
        >>> srs = get_instrument("srs").with_thresholds(cutoff_rule="<=")
        >>> srs.cutoff, srs.cutoff_rule
        (36.0, '<=')
        """
        changes: dict[str, Any] = {}
        if cutoff is not None:
            changes["cutoff"] = float(cutoff)
            changes["cutoff_source"] = "user-supplied"
        if cutoff_rule is not None:
            changes["cutoff_rule"] = cutoff_rule
        if rci is not None:
            changes["rci"] = float(rci)
            changes["rci_source"] = "user-supplied"
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
    if inst.cutoff_rule not in CUTOFF_RULES:
        _fail(iid, f"cutoff_rule must be one of {CUTOFF_RULES}, got {inst.cutoff_rule!r}")
    if inst.cutoff is not None and not math.isfinite(inst.cutoff):
        _fail(iid, f"cutoff must be a finite number, got {inst.cutoff}")
    if inst.rci is not None and not (math.isfinite(inst.rci) and inst.rci > 0):
        _fail(iid, f"rci must be a positive number of score points, got {inst.rci}")
