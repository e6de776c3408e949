"""The marks a trajectory figure adds for a reviewer: n per session, attrition, model means.

Used by :mod:`alliancestats.plot.trajectories`:

* :func:`draw_counts` writes the number of observed values at each session in a row of
  labels above the plot area (one row per group when groups share the panel);
* :func:`attrition_note` says, in words, when that number falls steeply -- observed means at
  late sessions then describe only the patients still observed (with dropout that depends on
  the alliance, a rising alliance curve is partly attrition);
* :func:`model_means` computes the model-implied mean at each session (estimated marginal
  means of a fitted mixed model, :func:`alliancestats.marginal_means`), the line that under
  missing-at-random dropout describes the whole cohort.

Examples
--------
>>> import pandas as pd
>>> counts = pd.DataFrame({"session": [1, 2, 3], "n": [40, 30, 12]})
>>> attrition_note(counts, threshold=0.3)
'n falls from 40 (session 1) to 12 (session 3): later means describe only the patients still observed'
"""

from __future__ import annotations

import textwrap
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from alliancestats.errors import ParameterError
from alliancestats.plot._style import INK, SMALL_FONT_SIZE

__all__ = ["COUNT_GID", "NOTE_GID", "attrition_note", "draw_counts", "model_means", "write_note"]

#: ``Text.get_gid()`` of the n-per-session labels and of the attrition note
COUNT_GID = "n_per_session"
NOTE_GID = "attrition_note"

#: vertical step between rows of labels above the axes, in points
_ROW = SMALL_FONT_SIZE + 3.0
#: most session labels in one row; beyond it every k-th session is labelled
_MAX_LABELS = 20


def _thin(sessions: np.ndarray) -> np.ndarray:
    step = int(np.ceil(len(sessions) / _MAX_LABELS)) if len(sessions) else 1
    keep = np.zeros(len(sessions), dtype=bool)
    keep[::step] = True
    if len(sessions):
        keep[-1] = True
    return keep


def draw_counts(ax: Axes, rows: list[tuple[str, str, pd.DataFrame]], session: str) -> float:
    """Write n per session above ``ax``, one row per ``(label, colour, counts)``.

    ``counts`` has columns ``session`` (named ``session``) and ``n``. Returns the height in
    points the rows take (for the title's padding).
    """
    for k, (label, colour, counts) in enumerate(rows):
        rise = 3.0 + _ROW * (len(rows) - 1 - k)
        x = counts[session].to_numpy(float)
        n = counts["n"].to_numpy()
        for xi, ni in zip(x[_thin(x)], n[_thin(x)], strict=True):
            ax.annotate(f"{int(ni)}", xy=(xi, 1.0), xycoords=("data", "axes fraction"),
                        xytext=(0, rise), textcoords="offset points", ha="center",
                        va="bottom", fontsize=SMALL_FONT_SIZE, color=colour, gid=COUNT_GID,
                        annotation_clip=False, in_layout=False)
        ax.annotate(label, xy=(0.0, 1.0), xycoords="axes fraction", xytext=(-6, rise),
                    textcoords="offset points", ha="right", va="bottom",
                    fontsize=SMALL_FONT_SIZE, color=colour, gid=COUNT_GID)
    return 3.0 + _ROW * len(rows)


def attrition_note(counts: pd.DataFrame, threshold: float | None, session: str = "session"
                   ) -> str | None:
    """A sentence when n falls by at least ``threshold`` (a share) from first to last session.

    Returns ``None`` when attrition is smaller (or ``threshold`` is ``None``).
    """
    if threshold is None or len(counts) < 2:
        return None
    ordered = counts.sort_values(session)
    first, last = int(ordered["n"].iloc[0]), int(ordered["n"].iloc[-1])
    if first == 0 or 1 - last / first < threshold:
        return None
    s0, s1 = ordered[session].iloc[0], ordered[session].iloc[-1]
    return (f"n falls from {first} (session {s0:g}) to {last} (session {s1:g}): later means "
            "describe only the patients still observed")


def write_note(ax: Axes, note: str, rise: float) -> float:
    """Put the attrition note above the count rows, wrapped to the axes' width.

    Returns the height (points) the note takes. The note stays out of the layout engine's
    width calculation (a long line would squeeze the plot); the caller reserves its height.
    """
    width_pt = ax.get_position().width * ax.get_figure().get_figwidth() * 72
    chars = max(int(width_pt / (0.55 * SMALL_FONT_SIZE)), 30)
    text = textwrap.fill(note, width=chars)
    ax.annotate(text, xy=(0.0, 1.0), xycoords="axes fraction", xytext=(0, rise + 2),
                textcoords="offset points", ha="left", va="bottom", fontsize=SMALL_FONT_SIZE,
                color=INK, style="italic", gid=NOTE_GID, in_layout=False)
    return 2 + (SMALL_FONT_SIZE * 1.25) * (text.count("\n") + 1)


def _response(model: Any) -> str:
    formula = getattr(model, "formula", None)
    if not isinstance(formula, str) or "~" not in formula:
        raise ParameterError(
            "model must be a fit from alliancestats.lmm or alliancestats.glmm, got "
            f"{type(model).__name__}"
        )
    return formula.split("~", 1)[0].strip()


def model_means(model: Any, y: str, session: str, group: str | None,
                sessions: np.ndarray, level: float) -> tuple[pd.DataFrame, bool]:
    """Model-implied means of ``y`` at ``sessions`` (by ``group`` when the model uses it).

    Returns the table (``[group,] session, estimate, ci_low, ci_high``) and whether it is
    split by ``group``. Other numeric predictors sit at their mean, factors are averaged with
    equal weights (emmeans' defaults).
    """
    from alliancestats.effects.marginal import marginal_means

    response = _response(model)
    if response != y:
        raise ParameterError(
            f"model= was fitted to {response!r}, not to the plotted {y!r}: its trajectory "
            "would not belong on this figure"
        )
    at = {session: [float(s) for s in sessions]}
    if group is not None:
        try:
            table = marginal_means(model, session, by=group, at=at, level=level).table
            return table, True
        except ParameterError:  # the model does not use the grouping variable
            pass
    return marginal_means(model, session, at=at, level=level).table, False
