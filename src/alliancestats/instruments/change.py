"""Individual change: reliable change index, clinical significance and MCID classification.

All functions are vectorised over pre/post scores given as scalars, arrays, Series or
DataFrames (one column per measure), and return tidy DataFrames with one row per person
(and measure). The direction of "better" comes from the instrument registry
(``higher_is_better``: False for pain and disability, True for alliance, PSFS, adherence) or
from the ``higher_is_better`` argument.

Examples
--------
>>> from alliancestats.instruments import reliable_change
>>> reliable_change(pre=[20.0, 20.0], post=[10.0, 18.0], sd_pre=7.5, reliability=0.9,
...                 higher_is_better=False)[["change", "rci", "category"]].round(3)
   change    rci      category
0   -10.0 -2.981      improved
1    -2.0 -0.596     unchanged
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from alliancestats.errors import InstrumentError
from alliancestats.instruments.registry import Instrument, get_instrument

__all__ = ["clinical_cutoffs", "clinical_significance", "mcid_change", "reliable_change"]

_Z_975 = 1.959963984540054  # two-sided 5% criterion; Jacobson & Truax (1991) round to 1.96


# --------------------------------------------------------------------------- helpers


def _resolve(
    instrument: str | Instrument | None, higher_is_better: bool | None
) -> tuple[Instrument | None, bool]:
    inst = get_instrument(instrument) if instrument is not None else None
    if higher_is_better is not None and not isinstance(higher_is_better, bool | np.bool_):
        # bool("no") is True: a string here would silently flip nothing or everything
        raise InstrumentError(f"higher_is_better must be True or False, got {higher_is_better!r}")
    if higher_is_better is None:
        if inst is None:
            raise InstrumentError(
                "give instrument= (direction taken from the registry) or higher_is_better="
            )
        higher_is_better = inst.higher_is_better
    return inst, bool(higher_is_better)


def _as_frame(x: Any, name: str) -> pd.DataFrame:
    if isinstance(x, pd.DataFrame):
        frame = x
    elif isinstance(x, pd.Series):
        frame = x.to_frame(name="score" if x.name is None else x.name)
    else:
        arr = np.atleast_1d(np.asarray(x))
        if arr.ndim != 1:
            raise InstrumentError(f"{name} must be one-dimensional (or a DataFrame)")
        frame = pd.DataFrame({"score": arr})
    try:
        return frame.apply(lambda col: pd.to_numeric(col, errors="raise")).astype(float)
    except (ValueError, TypeError) as exc:
        raise InstrumentError(f"{name} must be numeric: {exc}") from None


def _pair(pre: Any, post: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    pre_f, post_f = _as_frame(pre, "pre"), _as_frame(post, "post")
    if pre_f.shape[1] == 1 and post_f.shape[1] == 1 and pre_f.columns[0] != post_f.columns[0]:
        post_f.columns = pre_f.columns  # two differently named Series: one measure
    if list(pre_f.columns) != list(post_f.columns):
        raise InstrumentError(
            f"pre and post must have the same columns; got {list(pre_f.columns)} and "
            f"{list(post_f.columns)}"
        )
    if len(pre_f) != len(post_f):
        raise InstrumentError(f"pre has {len(pre_f)} rows but post has {len(post_f)}")
    if isinstance(pre, pd.Series | pd.DataFrame) and isinstance(post, pd.Series | pd.DataFrame):
        if not pre_f.index.equals(post_f.index):
            raise InstrumentError("pre and post have different indexes; align them first")
    else:
        idx = pre_f.index if isinstance(pre, pd.Series | pd.DataFrame) else post_f.index
        pre_f.index = idx
        post_f.index = idx
    return pre_f, post_f


def _per_measure(value: Any, columns: pd.Index, name: str) -> dict[Any, float | None]:
    """Broadcast a scalar or a per-measure mapping/Series of a parameter."""
    if value is None:
        return dict.fromkeys(columns)
    if isinstance(value, dict | pd.Series):
        missing = [c for c in columns if c not in value]
        if missing:
            raise InstrumentError(f"{name} has no value for measures {missing}")
        return {c: float(value[c]) for c in columns}
    return dict.fromkeys(columns, float(value))


def _long(parts: list[pd.DataFrame], multi: bool) -> pd.DataFrame:
    out = pd.concat(parts) if multi else parts[0]
    if not multi:
        out = out.drop(columns="measure")
    return out


def _positive(name: str, value: Any) -> float | None:
    """``value`` as a positive finite float (``None`` passes through)."""
    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InstrumentError(f"{name} must be a number, got {value!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise InstrumentError(f"{name} must be positive, got {value}")
    return v


def _reliability(inst: Instrument | None, reliability: float | None) -> float:
    if reliability is None:
        if inst is None or inst.reliability is None:
            which = f"{inst.id!r}" if inst is not None else "this measure"
            raise InstrumentError(
                f"no sourced default reliability for {which}; pass reliability= (e.g. "
                "Cronbach's alpha or test-retest r from your sample or a normative study)"
            )
        return inst.reliability
    try:
        value = float(reliability)
    except (TypeError, ValueError):
        raise InstrumentError(f"reliability must be a number, got {reliability!r}") from None
    if not 0 < value < 1:
        raise InstrumentError(f"reliability must lie strictly between 0 and 1, got {reliability}")
    return value


# --------------------------------------------------------------------------- RCI


def reliable_change(
    pre: Any,
    post: Any,
    *,
    instrument: str | Instrument | None = None,
    sd_pre: float | dict | pd.Series | None = None,
    reliability: float | None = None,
    higher_is_better: bool | None = None,
    criterion: float = _Z_975,
) -> pd.DataFrame:
    """Jacobson-Truax reliable change index for each person.

    ``RCI = (post - pre) / (SD_pre * sqrt(2) * sqrt(1 - r_xx))``; ``|RCI| > criterion``
    (1.96) is reliable change.

    Parameters
    ----------
    pre, post : array-like, Series or DataFrame
        Scores before and after; DataFrames give one measure per column (same columns).
    instrument : str or Instrument, optional
        Supplies the default reliability (only where sourced, e.g. WAI .92) and the direction.
    sd_pre : float, mapping or Series, optional
        Standard deviation of pre-treatment scores (per measure for DataFrames). Default: the
        sample SD of ``pre`` (ddof=1); a normative or clinical-sample SD is often preferable.
    reliability : float, optional
        Reliability ``r_xx`` (0 < r < 1); default from the registry, else an error.
    higher_is_better : bool, optional
        Direction; default from the registry.
    criterion : float, default 1.959964
        Critical ``|RCI|`` (two-sided 5%).

    Returns
    -------
    pandas.DataFrame
        Index of ``pre``; columns ``pre, post, change, sd_pre, reliability, se_diff, rci,
        reliable`` and ``category`` (``"improved"``, ``"deteriorated"`` or ``"unchanged"``;
        missing when a score is missing). DataFrame input adds ``measure`` (long format).

    Notes
    -----
    Jacobson, N. S., & Truax, P. (1991). Clinical significance: a statistical approach to
    defining meaningful change in psychotherapy research. *Journal of Consulting and
    Clinical Psychology*, 59(1), 12-19. ``se_diff = sqrt(2) * SD_pre * sqrt(1 - r_xx)``.
    Validated against hand computation of the formula (1e-12).

    Examples
    --------
    WAI-SR means with an assumed reliability of .90 and baseline SD .6:

    >>> from alliancestats.instruments import reliable_change
    >>> res = reliable_change([3.0, 3.5], [4.0, 3.6], instrument="wai_sr", sd_pre=0.6,
    ...                       reliability=0.9)
    >>> res[["rci", "reliable", "category"]].round(3)
         rci  reliable   category
    0  3.727      True   improved
    1  0.373     False  unchanged
    """
    inst, hib = _resolve(instrument, higher_is_better)
    r_xx = _reliability(inst, reliability)
    if not criterion > 0:
        raise InstrumentError(f"criterion must be positive, got {criterion}")
    pre_f, post_f = _pair(pre, post)
    sds = _per_measure(sd_pre, pre_f.columns, "sd_pre")
    parts = []
    for col in pre_f.columns:
        a, b = pre_f[col], post_f[col]
        sd = sds[col]
        if sd is None:
            if a.notna().sum() < 2:
                raise InstrumentError("need at least 2 pre scores to estimate sd_pre; pass sd_pre=")
            sd = float(a.std(ddof=1))
        if not (math.isfinite(sd) and sd > 0):
            raise InstrumentError(f"sd_pre must be positive, got {sd}")
        se_diff = math.sqrt(2.0) * sd * math.sqrt(1.0 - r_xx)
        change = b - a
        rci = change / se_diff
        part = pd.DataFrame(
            {
                "measure": col,
                "pre": a,
                "post": b,
                "change": change,
                "sd_pre": sd,
                "reliability": r_xx,
                "se_diff": se_diff,
                "rci": rci,
            }
        )
        reliable = pd.array(rci.abs().to_numpy() > criterion, dtype="boolean")
        reliable[rci.isna().to_numpy()] = pd.NA
        part["reliable"] = reliable
        better = rci > 0 if hib else rci < 0
        cat = np.where(
            ~part["reliable"].fillna(False),
            "unchanged",
            np.where(better, "improved", "deteriorated"),
        )
        part["category"] = pd.Series(cat, index=part.index, dtype=object).where(rci.notna())
        parts.append(part)
    return _long(parts, pre_f.shape[1] > 1 or isinstance(pre, pd.DataFrame))


# --------------------------------------------------------------------------- clinical significance


def clinical_cutoffs(
    m_dys: float,
    sd_dys: float,
    m_func: float | None = None,
    sd_func: float | None = None,
    *,
    higher_is_better: bool = False,
) -> dict[str, float]:
    """Jacobson-Truax cut-offs a, b and c.

    For scales where higher = worse (symptoms, disability): ``a = M_dys - 2 SD_dys``,
    ``b = M_func + 2 SD_func``, ``c = (SD_func M_dys + SD_dys M_func) / (SD_func + SD_dys)``.
    For higher = better the signs of the 2 SD steps flip (a = M_dys + 2 SD_dys, b = M_func
    - 2 SD_func); c is unchanged.

    Parameters
    ----------
    m_dys, sd_dys : float
        Mean and SD of the dysfunctional (clinical) population.
    m_func, sd_func : float, optional
        Mean and SD of the functional population (needed for b and c).
    higher_is_better : bool, default False
        Direction of the scale.

    Returns
    -------
    dict
        ``{"a": ..., "b": ..., "c": ...}`` (b and c NaN without functional norms).

    Notes
    -----
    Jacobson, N. S., & Truax, P. (1991), *JCCP* 59(1), 12-19.

    Examples
    --------
    >>> from alliancestats.instruments.change import clinical_cutoffs
    >>> clinical_cutoffs(30.0, 8.0, 10.0, 6.0)
    {'a': 14.0, 'b': 22.0, 'c': 18.571428571428573}
    """
    sd_dys, sd_func = _positive("sd_dys", sd_dys), _positive("sd_func", sd_func)
    step = 2.0 if higher_is_better else -2.0
    a = m_dys + step * sd_dys
    if m_func is None or sd_func is None:
        return {"a": a, "b": math.nan, "c": math.nan}
    b = m_func - step * sd_func
    c = (sd_func * m_dys + sd_dys * m_func) / (sd_func + sd_dys)
    return {"a": a, "b": b, "c": c}


def clinical_significance(
    pre: Any,
    post: Any,
    *,
    m_dys: float,
    sd_dys: float,
    m_func: float | None = None,
    sd_func: float | None = None,
    cutoff: str = "c",
    instrument: str | Instrument | None = None,
    reliability: float | None = None,
    sd_pre: float | None = None,
    higher_is_better: bool | None = None,
    criterion: float = _Z_975,
) -> pd.DataFrame:
    """Jacobson-Truax classification: recovered, improved, unchanged, deteriorated.

    A person is *recovered* when the change is reliable in the better direction and the
    post score lies beyond the cut-off on the functional side; *improved* when the change is
    reliable and better but the cut-off is not passed; *deteriorated* when it is reliable and
    worse; otherwise *unchanged*.

    Parameters
    ----------
    pre, post : array-like or Series
        Scores before and after treatment.
    m_dys, sd_dys, m_func, sd_func : float
        Norms of the dysfunctional and functional populations (see :func:`clinical_cutoffs`).
    cutoff : {"a", "b", "c"}, default "c"
        Which cut-off decides "functional". Jacobson & Truax recommend c when both norms exist
        and overlap; a without functional norms.
    instrument, reliability
        As in :func:`reliable_change`.
    sd_pre : float, optional
        SD for the RCI; default ``sd_dys`` (the clinical population's SD).
    higher_is_better, criterion
        As in :func:`reliable_change`.

    Returns
    -------
    pandas.DataFrame
        The :func:`reliable_change` columns plus ``cutoff_type``, ``cutoff``,
        ``pre_functional``, ``post_functional`` (post beyond the cut-off on the functional
        side; a score exactly at the cut-off is not beyond it) and ``classification``.

    Notes
    -----
    Jacobson, N. S., & Truax, P. (1991), *JCCP* 59(1), 12-19. Validated against hand
    computation (1e-12).

    Examples
    --------
    ODI-like disability (lower is better), clinical norms 40 (SD 12), functional 10 (SD 8):

    >>> from alliancestats.instruments import clinical_significance
    >>> res = clinical_significance([44, 44, 44, 30], [12, 30, 42, 50], m_dys=40, sd_dys=12,
    ...     m_func=10, sd_func=8, instrument="odi", reliability=0.9)
    >>> res[["cutoff", "rci", "classification"]].round(2)
       cutoff   rci classification
    0    22.0 -5.96      recovered
    1    22.0 -2.61       improved
    2    22.0 -0.37      unchanged
    3    22.0  3.73   deteriorated
    """
    if cutoff not in ("a", "b", "c"):
        raise InstrumentError(f"cutoff must be 'a', 'b' or 'c', got {cutoff!r}")
    inst, hib = _resolve(instrument, higher_is_better)
    cuts = clinical_cutoffs(m_dys, sd_dys, m_func, sd_func, higher_is_better=hib)
    value = cuts[cutoff]
    if math.isnan(value):
        raise InstrumentError(f"cut-off {cutoff!r} needs the functional norms m_func and sd_func")
    if isinstance(pre, pd.DataFrame) or isinstance(post, pd.DataFrame):
        raise InstrumentError("clinical_significance takes one measure (a Series or array)")
    res = reliable_change(
        pre,
        post,
        instrument=inst,
        sd_pre=sd_dys if sd_pre is None else sd_pre,
        reliability=reliability,
        higher_is_better=hib,
        criterion=criterion,
    )
    res["cutoff_type"] = cutoff
    res["cutoff"] = value

    def functional(x: pd.Series) -> pd.Series:
        flag = pd.array((x > value if hib else x < value).to_numpy(), dtype="boolean")
        flag[x.isna().to_numpy()] = pd.NA
        return pd.Series(flag, index=x.index)

    res["pre_functional"] = functional(res["pre"])
    res["post_functional"] = functional(res["post"])
    cat = res["category"]
    classification = cat.copy()
    recovered = (cat == "improved") & res["post_functional"].fillna(False).astype(bool)
    classification[recovered] = "recovered"
    res["classification"] = classification
    return res


# --------------------------------------------------------------------------- MCID


def mcid_change(
    pre: Any,
    post: Any,
    *,
    instrument: str | Instrument | None = None,
    threshold: float | None = None,
    percent: float | None = None,
    rule: str = "absolute",
    higher_is_better: bool | None = None,
) -> pd.DataFrame:
    """Classify change against the minimal important change (absolute and percent).

    Parameters
    ----------
    pre, post : array-like, Series or DataFrame
        Scores before and after (DataFrames: one measure per column, same thresholds).
    instrument : str or Instrument, optional
        Supplies ``threshold``, ``percent`` and the direction from the registry (e.g. NRS 2
        points or 30%, ODI 10 points or 30%, QuickDASH 14, lower is better).
    threshold : float, optional
        Minimal important change in points (overrides the registry).
    percent : float, optional
        Minimal important change in percent of the baseline score (overrides the registry).
    rule : {"absolute", "percent", "either", "both"}, default "absolute"
        Which criterion decides ``classification``.
    higher_is_better : bool, optional
        Direction; default from the registry.

    Returns
    -------
    pandas.DataFrame
        Columns ``pre, post, change`` (post - pre), ``improvement`` (change signed so that
        positive = better), ``pct_improvement`` (improvement / ``|pre|`` x 100; missing when pre
        is 0), ``threshold``, ``percent_threshold``, ``meets_absolute``, ``meets_percent``
        (nullable booleans: improvement >= threshold), ``classification``
        (``"improved"``, ``"unchanged"``, ``"deteriorated"``; a deterioration is a worsening
        of at least the same size). DataFrame input adds ``measure``.

    Notes
    -----
    Thresholds: Farrar et al. (2001), *Pain* 94(2) (NRS 2 points / 30%); Ostelo et al.
    (2008), *Spine* 33(1) (VAS 15, RMDQ 5 or 30%, ODI 10 or 30%); Sorensen et al. (2013)
    (QuickDASH 14); Stratford (1999) (NDI MDC90 4.7); Stratford et al. (1995) (PSFS 2).
    A change equal to the threshold counts as meeting it ("at least" in these sources).

    Examples
    --------
    >>> from alliancestats.instruments import mcid_change
    >>> res = mcid_change([8, 8, 5], [5, 7, 7], instrument="nrs", rule="either")
    >>> res[["improvement", "pct_improvement", "classification"]].round(1)
       improvement  pct_improvement classification
    0          3.0             37.5       improved
    1          1.0             12.5      unchanged
    2         -2.0            -40.0   deteriorated
    """
    if rule not in ("absolute", "percent", "either", "both"):
        raise InstrumentError(f"rule must be absolute, percent, either or both; got {rule!r}")
    inst, hib = _resolve(instrument, higher_is_better)
    thr = threshold if threshold is not None else (inst.mcid if inst is not None else None)
    pct = percent if percent is not None else (inst.mcid_percent if inst is not None else None)
    thr, pct = _positive("threshold", thr), _positive("percent", pct)
    if percent is not None and pct < 1:
        raise InstrumentError(
            f"percent is a percentage (30 for a 30% improvement), got {percent}; a minimal "
            "important change below 1% is not plausible"
        )
    need_abs = rule in ("absolute", "either", "both")
    need_pct = rule in ("percent", "either", "both")
    where = f"for {inst.id!r}" if inst is not None else ""
    if need_abs and thr is None:
        raise InstrumentError(
            f"no sourced absolute minimal important change {where}; pass threshold="
        )
    if need_pct and pct is None:
        raise InstrumentError(
            f"no sourced percent minimal important change {where}; pass percent= or use "
            "rule='absolute'"
        )
    pre_f, post_f = _pair(pre, post)
    parts = []
    for col in pre_f.columns:
        a, b = pre_f[col], post_f[col]
        change = b - a
        improvement = change if hib else -change
        base = a.abs().where(a != 0)
        pct_imp = improvement / base * 100
        part = pd.DataFrame(
            {
                "measure": col,
                "pre": a,
                "post": b,
                "change": change,
                "improvement": improvement,
                "pct_improvement": pct_imp,
                "threshold": np.nan if thr is None else thr,
                "percent_threshold": np.nan if pct is None else pct,
            }
        )

        def meets(x: pd.Series, limit: float | None, sign: float) -> pd.Series:
            if limit is None:
                return pd.Series(pd.array([pd.NA] * len(x), dtype="boolean"), index=x.index)
            arr = pd.array((sign * x >= limit - 1e-12).to_numpy(), dtype="boolean")
            arr[x.isna().to_numpy()] = pd.NA
            return pd.Series(arr, index=x.index)

        up_abs, down_abs = meets(improvement, thr, 1.0), meets(improvement, thr, -1.0)
        up_pct, down_pct = meets(pct_imp, pct, 1.0), meets(pct_imp, pct, -1.0)
        part["meets_absolute"] = up_abs
        part["meets_percent"] = up_pct
        if rule == "absolute":
            up, down = up_abs, down_abs
        elif rule == "percent":
            up, down = up_pct, down_pct
        elif rule == "either":
            up, down = up_abs | up_pct, down_abs | down_pct
        else:
            up, down = up_abs & up_pct, down_abs & down_pct
        cls = pd.Series("unchanged", index=part.index, dtype=object)
        cls[up.fillna(False).astype(bool)] = "improved"
        cls[down.fillna(False).astype(bool)] = "deteriorated"
        undecided = up.isna() & ~up.fillna(False).astype(bool) & ~down.fillna(False).astype(bool)
        cls[undecided | change.isna()] = None
        part["classification"] = cls
        parts.append(part)
    return _long(parts, pre_f.shape[1] > 1 or isinstance(pre, pd.DataFrame))
