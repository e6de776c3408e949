"""The effect-size axis of the meta-analysis figures: scale names, back-transformed ticks (internal).

Positions always stay on the analysis scale (Fisher's z, log ratios), so intervals keep their
shape; a back-transformation only relabels the ticks, and the axis label then says which
scale the axis is drawn on ("Risk ratio (log scale)"). Tick sets cover every drawn interval.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import FixedFormatter, FixedLocator, MaxNLocator

from alliancestats.errors import MetaAnalysisError

__all__ = [
    "AxisTransform",
    "analysis_scale_name",
    "effect_axis_label",
    "format_number",
    "resolve_axis_transform",
    "se_axis_label",
    "set_effect_ticks",
]

# measure: (name of the analysis scale, name after back-transformation)
_SCALES = {
    "ZCOR": ("Fisher's z", "Correlation r"),
    "ZPCOR": ("Fisher's z of the partial correlation", "Partial correlation"),
    "COR": ("Correlation r", "Correlation r"),
    "PCOR": ("Partial correlation", "Partial correlation"),
    "SPCOR": ("Semi-partial correlation", "Semi-partial correlation"),
    "RR": ("Log risk ratio", "Risk ratio"),
    "OR": ("Log odds ratio", "Odds ratio"),
    "PETO": ("Log odds ratio (Peto)", "Odds ratio (Peto)"),
    "IRR": ("Log incidence rate ratio", "Incidence rate ratio"),
    "ROM": ("Log ratio of means", "Ratio of means"),
    "RD": ("Risk difference", "Risk difference"),
    "SMD": ("Standardised mean difference (g)", "Standardised mean difference (g)"),
    "SMDH": ("Standardised mean difference", "Standardised mean difference"),
    "SMCR": ("Standardised mean change", "Standardised mean change"),
    "SMCC": ("Standardised mean change", "Standardised mean change"),
    "MD": ("Mean difference", "Mean difference"),
    "MC": ("Mean change", "Mean change"),
    "PLO": ("Logit proportion", "Proportion"),
    "PR": ("Proportion", "Proportion"),
}
_NICE_RATIOS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100)  # 1-2-5: even in log


@dataclass(frozen=True)
class AxisTransform:
    """A back-transformation for the effect axis: function, inverse (or None) and name."""

    func: Callable[[np.ndarray], np.ndarray]
    inverse: Callable[[np.ndarray], np.ndarray] | None
    name: str


def resolve_axis_transform(transform: Any, measure: str | None) -> AxisTransform | None:
    """Interpret ``transform`` (None, "r", "exp", "auto" or a function) for an effect axis.

    Examples
    --------
    >>> resolve_axis_transform("r", "ZCOR").name
    'r'
    >>> resolve_axis_transform(None, "ZCOR") is None
    True
    """
    if transform is None:
        return None
    if callable(transform):
        return AxisTransform(transform, None, "custom")
    name = str(transform).lower()
    if name == "auto":
        m = (measure or "GEN").upper()
        name = (
            "r"
            if m in ("ZCOR", "ZPCOR")
            else "exp"
            if m in ("RR", "OR", "PETO", "IRR", "ROM")
            else "none"
        )
    if name in ("none", "identity"):
        return None
    if name in ("r", "z2r", "tanh"):
        return AxisTransform(np.tanh, np.arctanh, "r")
    if name == "exp":
        return AxisTransform(np.exp, np.log, "exp")
    raise MetaAnalysisError(
        f"Unknown transform {transform!r}; use None, 'r' (Fisher z to r), 'exp', 'auto' or a "
        "function."
    )


def analysis_scale_name(measure: str | None) -> str:
    """Name of the scale the effects are analysed on (e.g. ``"Fisher's z"``)."""
    return _SCALES.get(str(measure).upper(), ("Effect size", "Effect size"))[0]


def effect_axis_label(measure: str | None, tf: AxisTransform | None) -> str:
    """Axis label naming the scale drawn, e.g. ``"Risk ratio (log scale)"``.

    Examples
    --------
    >>> effect_axis_label("ZCOR", resolve_axis_transform("r", "ZCOR"))
    "Correlation r (Fisher's z scale)"
    >>> effect_axis_label("RR", None)
    'Log risk ratio'
    """
    analysis, back = _SCALES.get(str(measure).upper(), ("Effect size", "Effect size"))
    if tf is None:
        return analysis
    if tf.name == "exp":
        return f"{back} (log scale)"
    if tf.name == "r":
        return f"{back if back != analysis else 'Correlation r'} ({analysis} scale)"
    return f"{back} (transformed labels, {analysis} scale)"


def se_axis_label(measure: str | None) -> str:
    """Standard-error axis label naming its scale, e.g. ``"Standard error of Fisher's z"``."""
    return f"Standard error of {analysis_scale_name(measure).lower().replace('fisher', 'Fisher')}"


def format_number(value: float, digits: int = 2) -> str:
    """Fixed-decimal text with a typographic minus sign.

    Examples
    --------
    >>> format_number(-0.1234)
    '−0.12'
    """
    text = f"{value:.{digits}f}"
    if text.startswith("-") and float(text) == 0.0:
        text = text[1:]
    return text.replace("-", "\u2212")


def _tick_label(value: float) -> str:
    return f"{round(float(value), 10):g}".replace("-", "\u2212")


def _covering(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """The smallest run of ``values`` (sorted) whose ends reach ``lo`` and ``hi``."""
    below = values[values <= lo]
    above = values[values >= hi]
    start = below.max() if below.size else values.min()
    stop = above.min() if above.size else values.max()
    return values[(values >= start) & (values <= stop)]


def set_effect_ticks(
    ax: Axes, tf: AxisTransform | None, lo: float, hi: float
) -> tuple[float, float]:
    """Place x ticks that cover ``[lo, hi]`` (labelled on the back-transformed scale) and
    return the axis limits they span."""
    if tf is None or tf.inverse is None:
        positions = MaxNLocator(nbins=6).tick_values(lo, hi)
        positions = _covering(positions, lo, hi)
        labels = [_tick_label(v) for v in (positions if tf is None else tf.func(positions))]
    else:
        t_lo, t_hi = float(tf.func(np.array(lo))), float(tf.func(np.array(hi)))
        if tf.name == "exp":
            nice = np.array(_NICE_RATIOS, dtype=float)
            values = _covering(nice, t_lo, t_hi)
            if len(values) < 3:
                values = MaxNLocator(nbins=5).tick_values(t_lo, t_hi)
                values = _covering(values[values > 0], t_lo, t_hi)
        else:
            values = MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]).tick_values(t_lo, t_hi)
            values = _covering(values[np.abs(values) < 1], t_lo, t_hi)
        positions = tf.inverse(values)
        labels = [_tick_label(v) for v in values]
    ax.xaxis.set_major_locator(FixedLocator(positions))
    ax.xaxis.set_major_formatter(FixedFormatter(labels))
    return min(lo, float(np.min(positions))), max(hi, float(np.max(positions)))
