"""Which columns a section describes when its options do not say (shared helper)."""

from __future__ import annotations

from typing import Any

__all__ = ["default_measures", "shared_group"]


def default_measures(session_data: Any) -> list[str]:
    """The alliance total(s) and the outcomes: the loader's alliance and outcome columns.

    Alliance subscales (``alliance_bond``, ...) are left out when their total is present.
    """
    alliance = list(session_data.alliance_columns)
    totals = [c for c in alliance if not any(c.startswith(f"{t}_") for t in alliance if t != c)]
    return [*totals, *session_data.outcome_columns]


def shared_group(ctx: Any, options: dict[str, Any]) -> str | None:
    """A section's ``group`` option, else the one of [descriptives]."""
    if options.get("group"):
        return str(options["group"])
    own = ctx.config.sections.get("descriptives", {})
    return own.get("group") or None
