"""Mantel-Haenszel and Peto common-effect meta-analysis of 2×2 tables and incidence rates.

* :func:`mantel_haenszel` -- pooled odds ratio (Mantel & Haenszel 1959, with the variance of
  Robins, Breslow & Greenland 1986), risk ratio and risk difference (Greenland & Robins 1985),
  incidence rate ratio and difference (Rothman, Greenland & Lash 2008), plus the
  Cochran-Mantel-Haenszel test and, for odds ratios, Tarone's (1985) and the Breslow-Day test
  of homogeneity;
* :func:`peto` -- Peto's one-step odds ratio (Yusuf et al. 1985).

Both work on the raw counts (no continuity correction), so sparse tables keep their
information; the heterogeneity statistics use the study-level log ratios of
:func:`alliancestats.meta.effect_sizes` (with the usual 1/2 correction), as metafor's
``rma.mh`` and ``rma.peto`` do.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from alliancestats.errors import MetaAnalysisError
from alliancestats.meta._inputs import numeric_input, study_labels
from alliancestats.meta.measures_counts import incidence_rates, two_by_two
from alliancestats.meta.result import MetaResult, build_result

__all__ = ["mantel_haenszel", "peto"]

_MH_MEASURES = ("OR", "RR", "RD", "IRR", "IRD")


def _read(data: Any, names: dict[str, Any], function: str) -> dict[str, np.ndarray]:
    frame = None if data is None else data
    k = None if frame is None else len(frame)
    out = {
        n: numeric_input(frame, v, n, k, function=function)
        for n, v in names.items()
        if v is not None
    }
    return out


def _tables(data: Any, ai: Any, bi: Any, ci: Any, di: Any, n1i: Any, n2i: Any, function: str):
    got = _read(data, {"ai": ai, "bi": bi, "ci": ci, "di": di, "n1i": n1i, "n2i": n2i}, function)
    if "ai" not in got or "ci" not in got:
        raise MetaAnalysisError(f"{function}() needs ai and ci (events), with bi/di or n1i/n2i.")
    a, c = got["ai"], got["ci"]
    b = got["bi"] if "bi" in got else got.get("n1i", np.full(len(a), np.nan)) - a
    d = got["di"] if "di" in got else got.get("n2i", np.full(len(c), np.nan)) - c
    cells = np.column_stack([a, b, c, d])
    if np.any(cells[np.isfinite(cells)] < 0):
        raise MetaAnalysisError("2x2 cell counts must be non-negative.")
    return a, b, c, d


def _heterogeneity(
    yi: np.ndarray, vi: np.ndarray, beta: float
) -> tuple[float, float, float, float]:
    k = len(yi)
    if k < 2:
        return 0.0, 1.0, 0.0, 1.0
    q = max(0.0, float(np.sum((yi - beta) ** 2 / vi)))
    return (
        q,
        float(stats.chi2.sf(q, k - 1)),
        max(0.0, 100 * (q - (k - 1)) / q) if q > 0 else 0.0,
        q / (k - 1),
    )


def _fit_stats(yi: np.ndarray, vi: np.ndarray, q_resid: float) -> pd.DataFrame:
    k = len(yi)
    w = 1 / vi
    ll_ml = -0.5 * k * np.log(2 * np.pi) - 0.5 * np.sum(np.log(vi)) - 0.5 * q_resid
    ll_reml = (
        -0.5 * (k - 1) * np.log(2 * np.pi) + 0.5 * np.log(k) - 0.5 * np.sum(np.log(vi))
        - 0.5 * np.log(np.sum(w)) - 0.5 * q_resid
    )  # fmt: skip
    sat = float(np.sum(stats.norm.logpdf(yi, yi, np.sqrt(vi))))
    rows = {
        "ll": (ll_ml, ll_reml),
        "dev": (-2 * (ll_ml - sat), -2 * ll_reml),
        "AIC": (-2 * ll_ml + 2, -2 * ll_reml + 2),
        "BIC": (-2 * ll_ml + np.log(k), -2 * ll_reml + np.log(max(k - 1, 1))),
        "AICc": (
            -2 * ll_ml + 2 * max(k, 3) / (max(k, 3) - 2),
            -2 * ll_reml + 2 * max(k - 1, 3) / (max(k - 1, 3) - 2),
        ),
    }
    return pd.DataFrame.from_dict(rows, orient="index", columns=["ML", "REML"])


def _assemble(
    *, beta: float, se: float, yi: np.ndarray, vi: np.ndarray, weights: np.ndarray,
    labels: pd.Index, measure: str, method: str, level: float, q: tuple[float, ...],
    extras: dict[str, Any], data: pd.DataFrame,
) -> MetaResult:  # fmt: skip
    k = len(yi)
    qe, qe_p, i2, h2 = q
    return build_result(
        yi=yi, vi=vi, X=np.ones((k, 1)), mod_names=["(Intercept)"], labels=labels,
        beta=np.array([beta]), vb=np.array([[se**2]]), df=float("inf"), level=level,
        tau2=0.0, i2=i2, h2=h2, q=qe, q_p=qe_p, r2=float("nan"),
        weights=100 * weights / weights.sum(), method=method, test="z", measure=measure,
        data=data, fit_stats=_fit_stats(yi, vi, float(np.sum((yi - beta) ** 2 / vi))),
        extras=extras,
    )  # fmt: skip


def _level(level: float) -> float:
    level = float(level)
    return level * 100 if 0 < level < 1 else level


def _or_tests(a, b, c, d, n1, n2, N, beta_exp: float, correct: bool) -> dict[str, Any]:  # noqa: ANN001
    """Cochran-Mantel-Haenszel, Tarone and Breslow-Day tests for the odds ratio."""
    xt, yt = a + c, b + d
    num = (abs(np.sum(a - n1 / N * xt)) - (0.5 if correct else 0.0)) ** 2
    cmh = float(num / np.sum(n1 / N * (n2 / N) * xt * (yt / (N - 1))))
    out: dict[str, Any] = {"cmh": cmh, "cmh_p": float(stats.chi2.sf(cmh, 1))}
    if beta_exp == 1:
        N11 = n1 / N * xt
    else:
        A = beta_exp * (n1 + xt) + (n2 - xt)
        B = np.sqrt(A**2 - 4 * n1 * xt * beta_exp * (beta_exp - 1))
        N11 = (A - B) / (2 * (beta_exp - 1))
    pos = (N11 > 0) & (xt > 0) & (yt > 0)
    N11 = N11[pos]
    N12, N21 = n1[pos] - N11, xt[pos] - N11
    N22 = N11 - n1[pos] - xt[pos] + N[pos]
    var = 1 / (1 / N11 + 1 / N12 + 1 / N21 + 1 / N22)
    bd = max(0.0, float(np.sum((a[pos] - N11) ** 2 / var)))
    ta = max(0.0, bd - float(np.sum(a[pos] - N11) ** 2 / np.sum(var)))
    df = int(pos.sum()) - 1
    out.update(
        breslow_day=bd, breslow_day_p=float(stats.chi2.sf(bd, df)) if df > 0 else float("nan"),
        tarone=ta, tarone_p=float(stats.chi2.sf(ta, df)) if df > 0 else float("nan"),
    )  # fmt: skip
    return out


def _mh_tables(measure: str, a, b, c, d, correct: bool) -> tuple[float, float, np.ndarray, dict]:  # noqa: ANN001
    n1, n2 = a + b, c + d
    N = n1 + n2
    if measure == "OR":
        P, Qv, R_i, S_i = (a + d) / N, (b + c) / N, a / N * d, b / N * c
        R, S = R_i.sum(), S_i.sum()
        if R == 0 or S == 0:
            raise MetaAnalysisError("The Mantel-Haenszel odds ratio is not defined (no events).")
        var = 0.5 * (
            np.sum(P * R_i) / R**2 + np.sum(P * S_i + Qv * R_i) / (R * S) + np.sum(Qv * S_i) / S**2
        )
        return (
            float(np.log(R / S)),
            float(np.sqrt(var)),
            S_i,
            _or_tests(a, b, c, d, n1, n2, N, R / S, correct),
        )
    if measure == "RR":
        R, S = np.sum(a * n2 / N), np.sum(c * n1 / N)
        if a.sum() == 0 or c.sum() == 0:
            raise MetaAnalysisError("The Mantel-Haenszel risk ratio is not defined (no events).")
        var = np.sum(n1 / N * (n2 / N) * (a + c) - a / N * c) / (R * S)
        return float(np.log(R / S)), float(np.sqrt(var)), c / N * n1, {}
    denom = np.sum(n1 * n2 / N)  # RD
    beta = float(np.sum(a * n2 / N - c * n1 / N) / denom)
    var = (beta * np.sum(c * (n1 / N) ** 2 - a * (n2 / N) ** 2 + n1 / N * (n2 / N) * (n2 - n1) / 2)
           + np.sum(a * (n2 - c) / N + c * (n1 - a) / N) / 2) / denom**2  # fmt: skip
    return beta, float(np.sqrt(var)), n1 / N * n2, {}


def _mh_rates(measure: str, x1, x2, t1, t2, correct: bool) -> tuple[float, float, np.ndarray, dict]:  # noqa: ANN001
    T = t1 + t2
    if measure == "IRR":
        R, S = np.sum(x1 * t2 / T), np.sum(x2 * t1 / T)
        if x1.sum() == 0 or x2.sum() == 0:
            raise MetaAnalysisError("The Mantel-Haenszel rate ratio is not defined (no events).")
        se = np.sqrt(np.sum(t1 / T * (t2 / T) * (x1 + x2)) / (R * S))
        xt = x1 + x2
        cmh = (abs(np.sum(x1 - xt * t1 / T)) - (0.5 if correct else 0.0)) ** 2 / np.sum(
            xt * t1 / T * t2 / T
        )
        tests = {"cmh": float(cmh), "cmh_p": float(stats.chi2.sf(cmh, 1))}
        return float(np.log(R / S)), float(se), x2 / T * t1, tests
    w = t1 / T * t2
    beta = float(np.sum((x1 * t2 - x2 * t1) / T) / np.sum(w))
    se = float(np.sqrt(np.sum(w**2 * (x1 / t1**2 + x2 / t2**2))) / np.sum(w))
    return beta, se, w, {}


def mantel_haenszel(
    data: pd.DataFrame | None = None,
    *,
    measure: str = "OR",
    ai: Any = None, bi: Any = None, ci: Any = None, di: Any = None,
    n1i: Any = None, n2i: Any = None,
    x1i: Any = None, x2i: Any = None, t1i: Any = None, t2i: Any = None,
    correct: bool = True,
    level: float = 95,
    slab: Any = None,
) -> MetaResult:  # fmt: skip
    """Mantel-Haenszel common-effect meta-analysis (metafor ``rma.mh``).

    Parameters
    ----------
    data : pandas.DataFrame, optional
        Study table; the count arguments may then be column names.
    measure : {"OR", "RR", "RD", "IRR", "IRD"}
        Odds ratio, risk ratio, risk difference (2×2 counts ``ai, bi, ci, di`` or ``ai, n1i,
        ci, n2i``), incidence rate ratio or difference (``x1i, t1i, x2i, t2i``).
    ai, bi, ci, di : column name or array-like
        2×2 counts: treated events and non-events, control events and non-events.
    n1i, n2i : column name or array-like
        Arm sizes, in place of ``bi`` and ``di``.
    x1i, x2i, t1i, t2i : column name or array-like
        Events and person-times of the two groups (``IRR``, ``IRD``).
    correct : bool, default True
        Continuity correction of the Cochran-Mantel-Haenszel test.
    level : float
        Confidence level (percent or proportion).
    slab : str or sequence, optional
        Study labels.

    Returns
    -------
    MetaResult
        ``method="MH"``; ``estimate`` on the log scale for ratios (``apa()`` and ``summary(
        transform="exp")`` report the ratio). ``extras`` holds ``cmh``/``cmh_p`` and, for odds
        ratios, ``tarone``/``tarone_p`` and ``breslow_day``/``breslow_day_p``; ``yi, vi`` are
        the study-level estimates (tables without any event in both arms left out).

    Notes
    -----
    Validated against metafor 3.8-1 ``rma.mh`` on ``dat.bcg`` and ``dat.li2007`` (sparse
    tables) and ``dat.hart1999`` (rates): closed forms, tolerance 1e-10 relative.

    Examples
    --------
    >>> from alliancestats.meta import mantel_haenszel
    >>> res = mantel_haenszel(ai=[4, 6, 3], bi=[119, 300, 228], ci=[11, 29, 11],
    ...                       di=[128, 274, 209])
    >>> res.method, round(float(np.exp(res.estimate)), 3)
    ('MH', 0.243)
    """
    measure = str(measure).upper()
    if measure not in _MH_MEASURES:
        raise MetaAnalysisError(
            f"measure must be one of {', '.join(_MH_MEASURES)}; got {measure!r}."
        )
    if measure in ("IRR", "IRD"):
        got = _read(data, {"x1i": x1i, "x2i": x2i, "t1i": t1i, "t2i": t2i}, "mantel_haenszel")
        if len(got) < 4:
            raise MetaAnalysisError(f"measure={measure!r} needs x1i, t1i, x2i and t2i.")
        x1, x2, t1, t2 = got["x1i"], got["x2i"], got["t1i"], got["t2i"]
        beta, se, w, extras = _mh_rates(measure, x1, x2, t1, t2, correct)
        yi, vi = incidence_rates(measure, x1, t1, x2, t2)
        keep = ~((x1 == 0) & (x2 == 0))
    else:
        a, b, c, d = _tables(data, ai, bi, ci, di, n1i, n2i, "mantel_haenszel")
        beta, se, w, extras = _mh_tables(measure, a, b, c, d, correct)
        yi, vi = two_by_two(measure, a, b, c, d)
        keep = ~(((a == 0) & (c == 0)) | ((b == 0) & (d == 0)))
    frame = (
        pd.DataFrame(index=pd.RangeIndex(len(yi))) if data is None else data.reset_index(drop=True)
    )
    labels = study_labels(frame, slab)
    extras["k_tables"] = len(yi)
    q = _heterogeneity(yi[keep], vi[keep], beta)
    return _assemble(
        beta=beta, se=se, yi=yi[keep], vi=vi[keep], weights=w[keep], labels=labels[keep],
        measure=measure, method="MH", level=_level(level), q=q, extras=extras,
        data=frame.loc[keep].reset_index(drop=True).assign(yi=yi[keep], vi=vi[keep]),
    )  # fmt: skip


def peto(
    data: pd.DataFrame | None = None,
    *,
    ai: Any = None, bi: Any = None, ci: Any = None, di: Any = None,
    n1i: Any = None, n2i: Any = None,
    level: float = 95,
    slab: Any = None,
) -> MetaResult:  # fmt: skip
    """Peto's one-step pooled log odds ratio (metafor ``rma.peto``).

    Parameters
    ----------
    data : pandas.DataFrame, optional
        Study table; the count arguments may then be column names.
    ai, bi, ci, di, n1i, n2i : column name or array-like
        2×2 counts (``bi``/``di`` or the group sizes ``n1i``/``n2i``).
    level : float
        Confidence level (percent or proportion).
    slab : str or sequence, optional
        Study labels.

    Returns
    -------
    MetaResult
        ``method="PETO"``, ``measure="PETO"``; estimate ``Σ(O − E)/ΣV`` with SE ``1/√ΣV``;
        ``q`` is the Peto heterogeneity statistic ``Σ(O − E)²/V − (Σ(O − E))²/ΣV``.

    Notes
    -----
    Yusuf, Peto, Lewis, Collins & Sleight (1985, Prog Cardiovasc Dis 27(5)). Validated against
    metafor 3.8-1 ``rma.peto`` on ``dat.bcg`` and ``dat.li2007`` (tolerance 1e-10 relative).

    Examples
    --------
    >>> from alliancestats.meta import peto
    >>> res = peto(ai=[4, 6, 3], bi=[119, 300, 228], ci=[11, 29, 11], di=[128, 274, 209])
    >>> res.method, res.measure
    ('PETO', 'PETO')
    """
    a, b, c, d = _tables(data, ai, bi, ci, di, n1i, n2i, "peto")
    n1, n2 = a + b, c + d
    N = n1 + n2
    xt, yt = a + c, b + d
    E = xt * n1 / N
    V = xt * yt * (n1 / N) * (n2 / N) / (N - 1)
    if V.sum() == 0:
        raise MetaAnalysisError(
            "Peto's odds ratio is not defined: no table has events and non-events."
        )
    beta = float(np.sum(a - E) / V.sum())
    Vpos = np.where(V > 0, V, np.nan)
    qe = max(0.0, float(np.nansum((a - E) ** 2 / Vpos) - np.sum(a - E) ** 2 / V.sum()))
    yi, vi = two_by_two("PETO", a, b, c, d)
    keep = ~(((a == 0) & (c == 0)) | ((b == 0) & (d == 0)))
    k = int(keep.sum())
    het = (qe, float(stats.chi2.sf(qe, k - 1)) if k > 1 else 1.0,
           max(0.0, 100 * (qe - (k - 1)) / qe) if qe > 0 and k > 1 else 0.0,
           qe / (k - 1) if k > 1 else 1.0)  # fmt: skip
    frame = (
        pd.DataFrame(index=pd.RangeIndex(len(yi))) if data is None else data.reset_index(drop=True)
    )
    labels = study_labels(frame, slab)
    return _assemble(
        beta=beta, se=float(1 / np.sqrt(V.sum())), yi=yi[keep], vi=vi[keep], weights=V[keep],
        labels=labels[keep], measure="PETO", method="PETO", level=_level(level), q=het,
        extras={"k_tables": len(yi)},
        data=frame.loc[keep].reset_index(drop=True).assign(yi=yi[keep], vi=vi[keep]),
    )  # fmt: skip
