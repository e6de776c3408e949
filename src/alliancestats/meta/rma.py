"""Common-effect, random-effects, meta-regression and multilevel models: :func:`meta_analysis`.

:func:`meta_analysis` reads the study table into a
:class:`~alliancestats.meta.spec.ModelSpec` and fits it. The univariate model is
``y_i = x_i'β + u_i + e_i`` with ``u_i ~ N(0, τ²)`` and ``e_i ~ N(0, v_i)`` (Viechtbauer 2010,
J Stat Softw 36(3)); ``random=`` or a full ``V`` switches to the multilevel/multivariate model
of :mod:`alliancestats.meta.multilevel`.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from alliancestats._validation import as_frame
from alliancestats.errors import DataQualityWarning, DroppedRowsWarning, MetaAnalysisError
from alliancestats.meta._inputs import (
    moderator_matrix,
    numeric_input,
    sampling_inputs,
    study_labels,
)
from alliancestats.meta.effect_sizes import effect_sizes
from alliancestats.meta.heterogeneity import TAU2_METHODS
from alliancestats.meta.random_effects import RandomSpec, parse_random
from alliancestats.meta.result import MetaResult
from alliancestats.meta.robust import ROBUST_TYPES
from alliancestats.meta.spec import ModelSpec

__all__ = ["meta_analysis"]

_TESTS = ("z", "t", "knha", "adhoc")
#: the largest ratio of sampling variances that double precision can still handle
_MAX_VARIANCE_RATIO = 1.0 / np.finfo(float).eps


def _settings(method: str, test: str, level: Any, tau2: Any) -> tuple[str, str, float, Any]:
    method = str(method).upper()
    if method not in TAU2_METHODS:
        raise MetaAnalysisError(
            f"Unknown method {method!r}; choose one of {', '.join(TAU2_METHODS)}."
        )
    test = str(test).lower()
    if test not in _TESTS:
        raise MetaAnalysisError(f"Unknown test {test!r}; choose one of {', '.join(_TESTS)}.")
    try:
        level = float(level)
    except (TypeError, ValueError):
        raise MetaAnalysisError(f"level must be a number such as 95, got {level!r}.") from None
    if 0 < level < 1:  # a proportion (0.95), as metafor also accepts
        level *= 100
    if not 0 < level < 100:
        raise MetaAnalysisError("level must be a percentage between 0 and 100 (e.g. 95).")
    if tau2 is not None:
        try:
            tau2 = float(tau2)
        except (TypeError, ValueError):
            raise MetaAnalysisError(f"tau2 must be a number, got {tau2!r}.") from None
        if not (np.isfinite(tau2) and tau2 >= 0):
            raise MetaAnalysisError(f"A fixed tau2 must be finite and non-negative, got {tau2}.")
    return method, test, level, tau2


def _control(control: Any) -> dict[str, Any]:
    if control is not None and not isinstance(control, dict):
        raise MetaAnalysisError(
            "control must be a dict such as {'threshold': 1e-10, 'maxiter': 500}."
        )
    control = dict(control or {})
    unknown = set(control) - {"threshold", "maxiter"}
    if unknown:
        raise MetaAnalysisError(
            f"Unknown control option(s): {sorted(unknown)}; use threshold, maxiter."
        )
    threshold = control.get("threshold", 1.0)
    if not (isinstance(threshold, numbers.Real) and threshold > 0):
        raise MetaAnalysisError(f"control threshold must be positive, got {threshold!r}.")
    maxiter = control.get("maxiter", 1)
    if not (
        isinstance(maxiter, numbers.Integral) and not isinstance(maxiter, bool) and maxiter >= 1
    ):
        raise MetaAnalysisError(f"control maxiter must be a positive integer, got {maxiter!r}.")
    return control


def _sampling_matrix(V: Any, k: int) -> np.ndarray | None:
    """A k × k sampling covariance from a matrix or a list of diagonal blocks (in row order)."""
    if V is None:
        return None
    if isinstance(V, list | tuple) and len(V) and np.ndim(V[0]) == 2:
        blocks = [np.asarray(b, dtype=float) for b in V]
        M = np.zeros((sum(len(b) for b in blocks),) * 2)
        at = 0
        for b in blocks:
            M[at : at + len(b), at : at + len(b)] = b
            at += len(b)
    else:
        M = np.asarray(V, dtype=float)
    if M.shape != (k, k):
        raise MetaAnalysisError(
            f"V must be a {k} x {k} matrix (one row per effect size); got {M.shape}."
        )
    finite = np.isfinite(M)
    if not np.allclose(np.where(finite, M, 0), np.where(finite, M, 0).T, rtol=1e-10, atol=1e-14):
        raise MetaAnalysisError("V must be symmetric (a sampling covariance matrix).")
    return M


def _effect_inputs(
    frame: pd.DataFrame | None,
    yi: Any,
    vi: Any,
    sei: Any,
    r: Any,
    n: Any,
    measure: Any,
    has_v: bool,
) -> tuple[np.ndarray, np.ndarray, str | None, pd.DataFrame | None]:
    """Effect sizes, variances, measure and the study table they came from."""
    if r is not None or n is not None:
        if r is None or n is None:
            raise MetaAnalysisError("Give both r and n to meta-analyse correlations.")
        es_measure = (measure or "ZCOR").upper()
        es = effect_sizes(frame, r=r, n=n, measure=es_measure)
        table = es.drop(columns=["yi", "vi"])  # keeps r, n (and the user's columns)
        return es["yi"].to_numpy(float), es["vi"].to_numpy(float), es_measure, table
    yi_arr, vi_arr = sampling_inputs(frame, yi, vi, sei, need_vi=not has_v)
    if measure is None and frame is not None:
        measure = frame.attrs.get("measure")
        if measure is None and "measure" in frame.columns:
            vals = pd.unique(frame["measure"].dropna())
            measure = str(vals[0]) if len(vals) == 1 else None
    return yi_arr, vi_arr, measure, frame


def _grouping(
    frame: pd.DataFrame, random: Any, struct: Any, robust: Any
) -> tuple[RandomSpec | None, str | None, np.ndarray]:
    """Random-effects spec, robust cluster column and rows complete in both."""
    ok = np.ones(len(frame), dtype=bool)
    spec = None
    if random is not None:
        spec = parse_random(random, struct)
        for col in spec.columns:
            if col not in frame.columns:
                raise MetaAnalysisError(f"random: column {col!r} not found in data.")
        ok &= frame[spec.columns].notna().all(axis=1).to_numpy()
    cluster: str | None = None
    if robust is not None and robust is not False:
        if robust is True:
            if spec is None:
                raise MetaAnalysisError("robust=True needs random=...; or give a cluster column.")
            cluster = spec.top_level
        else:
            cluster = str(robust)
            if cluster not in frame.columns:
                raise MetaAnalysisError(f"robust: cluster column {cluster!r} not found.")
        ok &= frame[cluster].notna().to_numpy()
    return spec, cluster, ok


def _check_variances(vi: np.ndarray, labels: pd.Index, has_v: bool) -> None:
    if np.any(vi <= 0):
        bad = ", ".join(str(x) for x in labels[vi <= 0][:5])
        raise MetaAnalysisError(f"Sampling variances must be positive; check studies {bad}.")
    if not len(vi):
        return
    ratio = vi.max() / vi.min()
    if ratio > _MAX_VARIANCE_RATIO:
        tiny = ", ".join(str(x) for x in labels[vi == vi.min()][:5])
        raise MetaAnalysisError(
            f"The sampling variances span a factor of {ratio:.2g}, more than double precision "
            f"can resolve: the smallest ({vi.min():.3g}, {tiny}) is effectively zero next to "
            "the largest. A variance of (nearly) 0 gives that study all the weight; check for "
            "variances rounded to zero or entered on the wrong scale."
        )
    if ratio > 1e7 and not has_v:
        warnings.warn(
            f"The largest sampling variance is {ratio:.2g} times the smallest; results may be "
            "numerically unstable (metafor warns likewise). Check for variances entered on the "
            "wrong scale (e.g. standard errors, or 0 rounded up).",
            DataQualityWarning,
            stacklevel=3,
        )


def _report_dropped(ok: np.ndarray, labels: pd.Index) -> None:
    if ok.all():
        return
    dropped = [str(x) for x in labels[~ok]]
    n = int((~ok).sum())
    warnings.warn(
        f"{n} stud{'y' if n == 1 else 'ies'} with missing or non-finite values dropped: "
        f"{', '.join(dropped[:10])}{' ...' if len(dropped) > 10 else ''}.",
        DroppedRowsWarning,
        stacklevel=3,
    )


def meta_analysis(
    data: pd.DataFrame | None = None,
    *,
    yi: str | Sequence[float] | np.ndarray | None = None,
    vi: str | Sequence[float] | np.ndarray | None = None,
    sei: str | Sequence[float] | np.ndarray | None = None,
    r: str | Sequence[float] | np.ndarray | None = None,
    n: str | Sequence[float] | np.ndarray | None = None,
    measure: str | None = None,
    method: str = "REML",
    test: str = "z",
    mods: str | Sequence[str] | np.ndarray | None = None,
    intercept: bool = True,
    level: float = 95,
    random: str | Sequence[str] | None = None,
    struct: str | Sequence[str] = "CS",
    V: Any = None,
    weights: str | Sequence[float] | np.ndarray | None = None,
    slab: str | Sequence[str] | None = None,
    subgroup: str | None = None,
    tau2: float | None = None,
    sigma2: Sequence[float | None] | None = None,
    robust: str | bool | None = None,
    robust_type: str = "CR2",
    control: dict[str, float] | None = None,
) -> MetaResult:
    """Fit a common-effect, random-effects, meta-regression, multilevel or multivariate model.

    Parameters
    ----------
    data : pandas.DataFrame or SessionData, optional
        Study-level table. When it is the output of :func:`effect_sizes` (columns ``yi`` and
        ``vi``), no further arguments are needed.
    yi, vi, sei : str or array-like, optional
        Effect sizes and sampling variances (or standard errors), as column names of ``data``
        or arrays. Text cells holding a missing-value code ("NA", "", "n/a", ...) count as
        missing (the study is dropped and reported); any other text is an error.
    r, n : str or array-like, optional
        Correlations and sample sizes; converted with :func:`effect_sizes` (``measure="ZCOR"``
        by default, or ``"COR"``).
    measure : str, optional
        Label of the effect-size metric ("ZCOR", "COR", "RR", "OR", "SMD", "GEN", ...). Taken
        from ``data.attrs["measure"]`` when ``data`` comes from :func:`effect_sizes`.
    method : str, default "REML"
        τ² estimator: "REML", "ML", "DL", "DLIT", "PM", "PMM", "EB", "HE", "SJ", "SJIT",
        "HS", "GENQ" (needs ``weights``); "FE"/"EE" fit the common-effect model. Multilevel
        models take "REML" or "ML".
    test : {"z", "t", "knha", "adhoc"}
        Normal-theory tests; Knapp & Hartung (2003) with t/F tests on ``k - p`` df;
        ``"adhoc"`` the same with the Knapp-Hartung factor truncated at 1 (``max(1, s²)``);
        ``"t"`` t/F tests without rescaling. Multilevel models have no Knapp-Hartung
        rescaling (as metafor's ``rma.mv``): ``"knha"`` there gives a t test, with a warning.
    mods : str, list of str or array, optional
        Moderators: a formula such as ``"~ meanage + quality"`` (categorical columns get
        treatment dummies; ``"~ outcome - 1"`` drops the intercept), a list of columns, or a
        numeric array.
    intercept : bool, default True
        Add an intercept to moderators given as columns or an array.
    level : float
        Confidence level in percent (a proportion such as 0.95 is also accepted).
    random : str or sequence, optional
        Random effects as in metafor's ``rma.mv``: ``"~ 1 | study/es"`` (nested),
        ``["~ 1 | study", "~ 1 | lab"]`` (crossed), ``"~ outcome | study"`` (correlated
        effects with structure ``struct``), or column names ``("study", "es")``.
    struct : str or sequence of str, default "CS"
        Covariance structure of each ``~ inner | outer`` term: "CS", "HCS", "UN", "AR",
        "ID", "DIAG".
    V : array-like or list of arrays, optional
        Full sampling covariance matrix (k × k) or its diagonal blocks in row order, for
        several correlated outcomes per study; ``vi`` is then its diagonal.
    weights : str or array-like, optional
        Weights for the fixed effects instead of the inverse marginal variances (metafor
        ``weights=`` / ``W=``; the covariance of β is then the sandwich form).
    slab : str or sequence, optional
        Study labels (column name or values).
    subgroup : str, optional
        Column defining subgroups: separate models are fitted per subgroup (each with its own
        τ²) and their estimates compared with a Wald-type Q_between test (fixed-effect
        combination of the subgroup estimates; Borenstein et al. 2009, ch. 19). The returned
        result is the model for all studies, with ``subgroups`` and ``q_between`` attached.
    tau2 : float, optional
        Fix τ² at this value instead of estimating it (univariate models).
    sigma2 : sequence, optional
        Fix random-intercept variances of a multilevel model (``None`` = estimate).
    robust : str or bool, optional
        Cluster-robust inference with Satterthwaite degrees of freedom (Pustejovsky & Tipton
        2018): a column name for the clusters, or ``True`` for the outermost random factor.
    robust_type : {"CR2", "CR1", "CR1p", "CR0"}
        Small-sample adjustment of the robust covariance (clubSandwich's names).
    control : dict, optional
        ``{"threshold": ..., "maxiter": ...}`` for the iterative estimators (defaults 1e-12
        and 1000 univariate, 1e-10 multilevel). ``{"threshold": 1e-5}`` reproduces metafor's
        default stopping point for univariate models.

    Returns
    -------
    MetaResult

    Raises
    ------
    MetaAnalysisError
        Missing or invalid inputs (non-positive variances, too few studies, unknown method).
    DataValidationError
        Non-numeric text in a numeric input (the rows are on ``.problems``).

    Notes
    -----
    Estimation follows metafor's ``rma.uni`` (Viechtbauer 2010, J Stat Softw 36(3)): weighted
    least squares for β given τ²; τ² estimators DerSimonian & Laird (1986), Paule & Mandel
    (1982), Hedges, Sidik–Jonkman, Hunter–Schmidt, ML and REML (Fisher scoring), generalised
    Q and iterated DL (DerSimonian & Kacker 2007). I² and H² use the typical within-study
    variance of Higgins & Thompson (2002, Stat Med 21(11)). Knapp & Hartung (2003, Stat Med
    22(17)) scale the covariance by ``Q_w(τ̂²) / (k − p)``; when that factor is 0 (effects on
    the fitted model exactly) a warning points to ``test="adhoc"``. The prediction interval is
    ``μ̂ ± c·sqrt(τ̂² + SE²)`` with ``c`` the normal or t quantile. Pseudo-R² is metafor's
    ``(τ²_RE − τ²_ME) / τ²_RE`` truncated at 0 (also for a fixed τ²). :meth:`MetaResult.confint`
    gives Q-profile and profile-likelihood intervals.

    Multilevel and multivariate models (``random=``, ``V=``) follow metafor's ``rma.mv``
    (Konstantopoulos 2011; Berkey et al. 1998; Cheung 2014 for level-specific I²); a random
    factor with one level gets its variance fixed at 0 with a warning. ``robust=`` gives
    clubSandwich's cluster-robust covariance with Satterthwaite df and an HTZ omnibus test.

    Validated against metafor 3.8-1 and clubSandwich 0.5.8 on metadat data sets (Molloy
    2014, BCG, Konstantopoulos 2011, Assink 2016, Berkey 1998, Ishak 2007, ...): closed-form
    quantities agree to 1e-8 relative, iterative estimates to 1e-6 (univariate) and 1e-5
    (multilevel); the documentation page "Meta-analysis" lists every comparison.

    Examples
    --------
    >>> from alliancestats.meta import meta_analysis
    >>> res = meta_analysis(r=[0.20, 0.35, 0.10, 0.28, 0.15], n=[60, 120, 85, 40, 200])
    >>> res.k, res.measure
    (5, 'ZCOR')
    >>> round(float(res.predict(transform="r")["pred"].iloc[0]), 3)
    0.211
    """
    method, test, level, tau2 = _settings(method, test, level, tau2)
    frame = as_frame(data, "meta_analysis").copy() if data is not None else None
    yi_arr, vi_arr, measure, frame = _effect_inputs(
        frame, yi, vi, sei, r, n, measure, V is not None
    )
    k_all = len(yi_arr)
    if len(vi_arr) != k_all:
        raise MetaAnalysisError(f"yi has {k_all} values but vi has {len(vi_arr)}.")
    if frame is None:
        frame = pd.DataFrame(index=pd.RangeIndex(k_all))
    elif len(frame) != k_all:
        raise MetaAnalysisError("yi/vi arrays must have one value per row of data.")
    V_all = _sampling_matrix(V, k_all)
    if V_all is not None:
        vi_arr = np.diag(V_all).copy()
    w_arr = numeric_input(frame, weights, "weights", k_all)
    frame = frame.assign(yi=yi_arr, vi=vi_arr)
    labels = study_labels(frame, slab)
    X, names, ok = moderator_matrix(mods, frame, intercept)
    ok &= np.isfinite(yi_arr) & np.isfinite(vi_arr)
    if V_all is not None:
        ok &= np.isfinite(V_all).all(axis=1)
    if w_arr is not None:
        if np.any(w_arr[np.isfinite(w_arr)] < 0):
            raise MetaAnalysisError("weights must be non-negative.")
        ok &= np.isfinite(w_arr)
    random_spec, robust_col, ok_groups = _grouping(frame, random, struct, robust)
    ok &= ok_groups
    if random_spec is not None and tau2 is not None:
        raise MetaAnalysisError("tau2= fixes a univariate model; use sigma2= with random=.")
    if subgroup is not None:
        if mods is not None:
            raise MetaAnalysisError(
                "subgroup= fits intercept-only models per subgroup; for moderators use "
                "mods='~ group' (a meta-regression) instead."
            )
        if subgroup not in frame.columns:
            raise MetaAnalysisError(f"subgroup column {subgroup!r} not found in data.")
        ok &= frame[subgroup].notna().to_numpy()
    if robust_type not in ROBUST_TYPES:
        raise MetaAnalysisError(f"robust_type must be one of {', '.join(ROBUST_TYPES)}.")
    _report_dropped(ok, labels)
    frame, labels, yi_arr, vi_arr = frame.loc[ok], labels[ok], yi_arr[ok], vi_arr[ok]
    _check_variances(vi_arr, labels, V_all is not None)
    spec = ModelSpec(
        yi=yi_arr,
        vi=vi_arr,
        X=X[ok],
        mod_names=tuple(names),
        labels=labels,
        data=frame.reset_index(drop=True),
        method=method,
        test=test,
        level=level,
        measure=(measure or "GEN").upper(),
        tau2=tau2,
        V=None if V_all is None else V_all[np.ix_(ok, ok)],
        weights=None if w_arr is None else w_arr[ok],
        random=random_spec,
        random_data=None if random_spec is None else frame[random_spec.columns],
        sigma2=None if sigma2 is None else tuple(sigma2),
        robust=robust_col,
        cluster=None if robust_col is None else frame[robust_col].to_numpy(),
        robust_type=robust_type,
        control=_control(control),
    )
    result = spec.fit()
    if subgroup is not None:
        result = _attach_subgroups(result, frame[subgroup].to_numpy(), subgroup)
    return result


def _attach_subgroups(result: MetaResult, groups: np.ndarray, name: str) -> MetaResult:
    """Fit each subgroup separately and add the between-groups Q test."""
    levels = pd.unique(groups)
    rows = []
    for g in levels:
        sub = result.refit(subset=groups == g)
        rows.append(
            {
                "subgroup": g, "k": sub.k, "estimate": sub.estimate, "se": sub.se,
                "ci_low": sub.ci_low, "ci_high": sub.ci_high, "tau2": sub.tau2, "i2": sub.i2,
                "q": sub.q, "q_p": sub.q_p,
            }
        )  # fmt: skip
    table = pd.DataFrame(rows).set_index("subgroup")
    est = table["estimate"].to_numpy()
    w = 1.0 / table["se"].to_numpy() ** 2
    pooled = np.sum(w * est) / w.sum()
    qb = float(np.sum(w * (est - pooled) ** 2))
    dfb = len(levels) - 1
    qb_p = float(stats.chi2.sf(qb, dfb)) if dfb > 0 else float("nan")
    return replace(
        result, subgroups=table, q_between=qb, q_between_df=dfb, q_between_p=qb_p, subgroup=name
    )
