"""Item-level questionnaires scored while loading (``instruments=`` of ``load_sessions``).

``instruments`` maps an instrument id to its item columns, given as

- a template with ``{i}`` for the item number: ``{"wai_sr": "wai_{i}"}``;
- a list of columns in published item order;
- a dict item number -> column;
- a dict with ``"items"`` (any of the above) plus options: ``"name"`` (standard column of the
  total; subscales become ``<name>_<subscale>``) and any keyword of
  :func:`alliancestats.instruments.score` (``scale``, ``key``, ``max_missing``, ...).

Without ``"name"``, an alliance instrument's total becomes ``alliance`` (subscales
``alliance_task``, ...) and another instrument's total takes its construct (``pain``,
``function``, ``adherence``, ``global``) — unless that name is already used, in which case
the instrument id is used (``odi``, ``odi_...``).

Examples
--------
>>> specs = item_specs({"wai_sr": "wai_{i}"}, taken=set(), available=None)
>>> specs[0].name, specs[0].columns[:3]
('alliance', ['wai_1', 'wai_2', 'wai_3'])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from alliancestats.errors import InstrumentError, ParameterError
from alliancestats.instruments.registry import Instrument, get_instrument
from alliancestats.instruments.scoring import item_order

__all__ = ["ItemSpec", "item_specs"]


@dataclass
class ItemSpec:
    """One instrument to score: its item columns (item order) and output names."""

    instrument: Instrument
    columns: list[Any]
    name: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """``"alliance"`` or ``"outcome"``."""
        return "alliance" if self.instrument.construct == "alliance" else "outcome"

    def output_name(self, part: str) -> str:
        """Standard column for ``"total"`` or a subscale."""
        return self.name if part == "total" else f"{self.name}_{part}"


def _columns_from(inst: Instrument, items: Any, available: Sequence[Any] | None) -> list[Any]:
    if isinstance(items, str):
        if "{i}" not in items:
            raise ParameterError(
                f"item template {items!r} for {inst.id!r} must contain {{i}} for the item "
                "number, e.g. 'wai_{i}' for wai_1 ... wai_12"
            )
        numbers = inst.items
        cols = [items.replace("{i}", str(k)) for k in numbers]
        if inst.n_items is None and available is not None:  # variable length (PSFS)
            folded = {str(a).strip().casefold() for a in available}
            cols = [c for c in cols if c.strip().casefold() in folded]
        return cols
    if isinstance(items, Mapping):
        try:
            order = sorted(items, key=int)
        except (TypeError, ValueError):
            raise ParameterError(
                f"items of {inst.id!r} given as a dict must map item numbers (1, 2, ...) to columns"
            ) from None
        return [items[k] for k in order]
    if isinstance(items, Sequence):
        cols = list(items)
        try:  # a list is in published order: names carrying other item numbers are refused
            item_order(inst, cols, reorder=False)
        except InstrumentError as err:
            raise ParameterError(str(err)) from None
        return cols
    raise ParameterError(f"cannot read the items of {inst.id!r} from {items!r}")


def item_specs(
    instruments: Mapping[str, Any] | None,
    *,
    taken: set[str],
    available: Sequence[Any] | None,
) -> list[ItemSpec]:
    """Parse the ``instruments=`` argument (see the module docstring).

    Parameters
    ----------
    instruments : dict or None
        Instrument id -> item columns or options dict.
    taken : set of str
        Standard names already used by other roles (updated in place).
    available : sequence, optional
        Columns (or wide variable stems) present, for variable-length instruments.
    """
    specs: list[ItemSpec] = []
    for inst_id, spec in (instruments or {}).items():
        inst = get_instrument(inst_id)
        if isinstance(spec, Mapping) and "items" in spec:
            options = {k: v for k, v in spec.items() if k not in ("items", "name")}
            items = spec["items"]
            name = spec.get("name")
        else:
            options, items, name = {}, spec, None
        cols = _columns_from(inst, items, available)
        if not cols:
            raise ParameterError(f"no item columns found for {inst.id!r} from {items!r}")
        if name is None:
            name = inst.construct if inst.construct not in taken else inst.id
        if name in taken:
            raise ParameterError(
                f"the scores of {inst.id!r} would be called {name!r}, which is already used; "
                f"give another name: instruments={{'{inst.id}': {{'items': ..., 'name': ...}}}}"
            )
        taken.add(name)
        for sub in inst.subscales:
            taken.add(f"{name}_{sub}")
        specs.append(ItemSpec(inst, cols, name, options))
    return specs
