"""Generalised linear mixed models fitted like ``lme4::glmer``.

:func:`glmm` fits binomial (logit, probit, cloglog) and Poisson (log) mixed models written in
lme4 formula syntax, by the Laplace approximation (``nAGQ=1``, penalised iteratively reweighted
least squares; :mod:`alliancestats.models.pirls`) or adaptive Gauss-Hermite quadrature for a
single scalar random effect (``nAGQ > 1``; :mod:`alliancestats.models.agq`). The formula
parser, design matrices and result class are shared with :func:`alliancestats.models.lmm`
(:mod:`.formula`, :mod:`.design`, :mod:`.results`).

Fitting follows glmer's two stages: first the covariance parameters ``theta`` are optimised
with the fixed effects ``beta`` taken from the joint conditional mode of ``(u, beta)``
(glmer's ``nAGQ = 0`` step), then ``(theta, beta)`` are optimised together on the Laplace or
quadrature deviance (L-BFGS-B, with the exact Laplace gradient where available, on fixed
effects of rescaled columns; a search that ends at a zero variance is restarted once). The
optimum is polished by Newton steps and checked with lme4's scaled-gradient criterion.
Standard errors come, as in lme4 >= 1.1, from the Hessian of the deviance in
``(theta, beta)``, falling back to the ``RX``-based approximation when that Hessian is not
positive definite.

Examples
--------
>>> from alliancestats.models.glmm import glmm
>>> from alliancestats.simulate import simulate_sessions
>>> d = simulate_sessions(n_therapists=8, seed=4).dropna(subset=["adhered", "alliance"])
>>> fit = glmm("adhered ~ session + alliance + (1 | patient)", d, family="binomial")
>>> fit.method, list(fit.ngroups)
('Laplace', ['patient'])
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from alliancestats.errors import (
    ConvergenceWarning,
    DataValidationError,
    DroppedRowsWarning,
    EstimationError,
    FormulaError,
    ModelSpecificationError,
    SeparationWarning,
    SingularFitWarning,
)
from alliancestats.models.agq import MAX_NAGQ, agq_deviance
from alliancestats.models.binary_response import BinaryCoding, code_binary_response
from alliancestats.models.design import Design, build_design
from alliancestats.models.families import (
    Family,
    _exp_wald_table,
    get_family,
)
from alliancestats.models.formula_eval import safe_model_matrix
from alliancestats.models.glmm_optim import (
    _deriv12,
    _fd_grad,
    _glm_start,
    _hessian_from_gradient,
    _minimize,
    _single_threaded_blas,
)
from alliancestats.models.pirls import PirlsProblem, ReStructure, ReTermSpec
from alliancestats.models.results import MixedResult
from alliancestats.models.separation import SeparationResult, detect_separation

__all__ = ["glmm", "GlmmResult"]

_SINGULAR_TOL = 1e-4  # lme4's isSingular tolerance on theta
_GRAD_TOL = 2e-3  # lme4's checkConv tolerance on the scaled gradient


# ---------------------------------------------------------------------------- result class
class GlmmResult(MixedResult):
    """A fitted GLMM: :class:`~alliancestats.models.results.MixedResult` plus GLMM extras.

    Extra attributes
    ----------------
    link : str
        Link function name.
    nagq : int
        Number of quadrature nodes (1 = Laplace).
    overdispersion : pandas.Series or None
        ``pearson_chi2, df, ratio, p`` for Poisson fits and binomial fits with more than one
        trial per row (None for 0/1 responses, where the statistic is uninformative).
    separation : SeparationResult
        Result of the linear-programming separation check of the fixed part.
    vcov_method : str
        ``"hessian"`` (lme4's default) or ``"rx"`` (fallback).
    """

    def predict(  # type: ignore[override]
        self,
        newdata: pd.DataFrame | None = None,
        random: bool = True,
        type: str = "link",  # noqa: A002 - lme4's argument name
    ) -> pd.Series:
        """Predictions on the link (default, as lme4) or response scale.

        Parameters
        ----------
        newdata : DataFrame, optional
            New rows; the fitted rows when omitted. Groups not seen in the fit get the
            population-level prediction (random effects zero), as lme4's
            ``allow.new.levels = TRUE``.
        random : bool, default True
            Include the random effects (lme4's ``re.form = NULL``); ``False`` gives
            population-level predictions (``re.form = NA``).
        type : {"link", "response"}
            Scale of the predictions.

        Returns
        -------
        pandas.Series

        Examples
        --------
        >>> import pandas as pd
        >>> from alliancestats.simulate import simulate_sessions
        >>> d = simulate_sessions(n_therapists=8, seed=4).dropna(subset=["adhered", "alliance"])
        >>> fit = glmm("adhered ~ alliance + (1 | patient)", d)
        >>> new = pd.DataFrame({"alliance": [3.0, 4.5], "patient": ["P001", "not-in-data"]})
        >>> p = fit.predict(new, type="response")  # the unseen patient gets the population value
        >>> bool(p.iloc[1] == fit.predict(new, random=False, type="response").iloc[1])
        True
        """
        if type not in ("link", "response"):
            raise ValueError("type must be 'link' or 'response'")
        eta = self.predictor(newdata, random)
        values = eta if type == "link" else self._family.link.linkinv(eta)
        index = self.fitted.index if newdata is None else newdata.index
        return pd.Series(values, index=index, name="predicted")

    def summary(self) -> str:
        """Text summary laid out like lme4's ``summary(glmer_fit)``, plus GLMM diagnostics.

        Returns
        -------
        str
            The mixed-model summary with the family and link, followed by the overdispersion
            statistic, any separation finding and the quadrature note for ``nAGQ > 1``.

        Examples
        --------
        >>> from alliancestats.simulate import simulate_sessions
        >>> d = simulate_sessions(n_therapists=8, seed=4).dropna(subset=["adhered", "alliance"])
        >>> text = glmm("adhered ~ alliance + (1 | patient)", d).summary()
        >>> text.splitlines()[1]
        ' Family: binomial ( logit )'
        """
        text = super().summary().split("\n")
        text.insert(1, f" Family: {self.family} ( {self.link} )")
        extra = []
        if self.overdispersion is not None:
            od = self.overdispersion
            extra.append(
                f"Overdispersion: Pearson chi2 = {od['pearson_chi2']:.2f} on {od['df']:.0f} df, "
                f"ratio = {od['ratio']:.3f}, p = {od['p']:.3g}"
            )
        if self.separation.separated:
            extra.append(self.separation.message())
        if self.nagq > 1:
            extra.append(
                f"log-likelihood from {self.nagq}-point adaptive Gauss-Hermite quadrature "
                "(lme4's convention: compare only with fits using the same nAGQ)"
            )
        return "\n".join(text + ([""] + extra if extra else []))

    def fixed_exp(self, level: float | None = None) -> pd.DataFrame:
        """Exponentiated fixed effects: odds ratios (logit) or rate ratios (log link).

        Parameters
        ----------
        level : float, optional
            Confidence level (default: the level of the fit).

        Returns
        -------
        pandas.DataFrame
            Indexed by term with columns ``odds_ratio`` (or ``rate_ratio``), ``ci_low``,
            ``ci_high``, ``p``: Wald intervals transformed by ``exp``.

        Examples
        --------
        >>> from alliancestats.simulate import simulate_sessions
        >>> d = simulate_sessions(n_therapists=8, seed=4).dropna(subset=["adhered", "alliance"])
        >>> fit = glmm("adhered ~ alliance + (1 | patient)", d)
        >>> ors = fit.fixed_exp()
        >>> bool(ors.loc["alliance", "ci_low"] < ors.loc["alliance", "odds_ratio"])
        True
        """
        if self.link not in ("logit", "log"):
            raise ModelSpecificationError(
                f"exponentiated coefficients are odds or rate ratios only for logit and log "
                f"links; this model uses the {self.link} link"
            )
        level = self.level if level is None else level
        if not 0 < level < 1:
            raise ValueError("level must be between 0 and 1")
        return _exp_wald_table(self.fixed, self.link, level)


# ---------------------------------------------------------------------------- data handling
@dataclass
class _Prepared:
    design: Design
    y: np.ndarray
    pw: np.ndarray
    offset: np.ndarray
    family: Family
    offset_col: str | None
    offset_array: bool
    n_dropped: int
    trials_used: bool
    response: str
    response_coding: BinaryCoding | None = None


def _as_column(
    data: pd.DataFrame, spec: Any, what: str
) -> tuple[pd.Series | None, str | None, bool]:
    """Return (values aligned to data.index, column name or None, given-as-array flag)."""
    if spec is None:
        return None, None, False
    if isinstance(spec, str):
        if spec not in data.columns:
            raise FormulaError(f"{what} column {spec!r} is not in the data")
        col = data[spec]
        if not pd.api.types.is_numeric_dtype(col):
            raise DataValidationError(f"{what} column {spec!r} must be numeric (dtype {col.dtype})")
        return col.astype(float), spec, False
    try:
        arr = np.asarray(spec, dtype=float).ravel()
    except (TypeError, ValueError):
        raise DataValidationError(f"{what} values must be numeric") from None
    if arr.shape[0] != len(data):
        raise DataValidationError(
            f"{what} has {arr.shape[0]} values but the data have {len(data)} rows"
        )
    return pd.Series(arr, index=data.index), None, True


def _prepare(
    formula: str,
    data: pd.DataFrame,
    family: str | Family,
    link: str | None,
    trials: Any,
    weights: Any,
    offset: Any,
) -> _Prepared:
    fam = get_family(family, link)
    if not isinstance(data, pd.DataFrame):
        raise DataValidationError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    if not data.index.is_unique:
        data = data.reset_index(drop=True)
    data, response_coding = code_binary_response(data, formula, fam.name)
    if trials is not None and fam.name != "binomial":
        raise ModelSpecificationError("trials= is only meaningful for the binomial family")
    if trials is not None and weights is not None:
        raise ModelSpecificationError("give either trials= or weights=, not both")
    response_label = formula.split("~", 1)[0].strip()
    formula, is_cbind = _normalise_cbind(formula)
    if is_cbind:
        if fam.name != "binomial":
            raise ModelSpecificationError("a cbind(successes, failures) response needs binomial")
        if trials is not None or weights is not None:
            raise ModelSpecificationError(
                "a cbind(successes, failures) response already gives the trials; drop "
                "trials=/weights="
            )
    extra = {
        "trials": _as_column(data, trials, "trials"),
        "weights": _as_column(data, weights, "weights"),
        "offset": _as_column(data, offset, "offset"),
    }
    # rows with missing trials/weights/offset are dropped before the design is built
    miss = np.zeros(len(data), dtype=bool)
    for vals, _, _ in extra.values():
        if vals is not None:
            miss |= vals.isna().to_numpy()
    n_extra = int(miss.sum())
    n_total = len(data)
    named = [k for k, (v, _, _) in extra.items() if v is not None and v.isna().any()]
    full = data
    data = data.loc[~miss]
    design = build_design(formula, data, warn_dropped=False)
    if n_extra or design.n_dropped:
        named += [c for c in design.data.columns if c in full.columns and full[c].isna().any()]
        warnings.warn(
            f"{n_extra + design.n_dropped} of {n_total} rows dropped because of missing values "
            f"in {sorted(set(named), key=named.index)}; the fit uses {design.nobs} rows",
            DroppedRowsWarning,
            stacklevel=3,
        )
    if not design.random:
        raise FormulaError(
            f"formula {formula!r} has no random-effects term such as (1 | patient); use a GLM "
            "(statsmodels) or gee() for models without random effects"
        )
    rows = design.rows

    def _get(key: str) -> np.ndarray | None:
        vals = extra[key][0]
        return None if vals is None else vals.loc[rows].to_numpy(dtype=float)

    y_raw = np.asarray(design.y, dtype=float)
    pw = np.ones(design.nobs)
    trials_used = False
    if y_raw.ndim == 2:  # cbind(successes, failures), evaluated by build_design
        if np.any(y_raw < 0):
            raise DataValidationError(
                f"cbind() response {response_label!r} has negative successes or failures"
            )
        y, t = y_raw[:, 0], y_raw.sum(axis=1)
    else:
        y, t = y_raw, _get("trials")
    w = _get("weights")
    for what, vals in (("trials", t), ("weights", w)):
        if vals is not None and not np.all(np.isfinite(vals)):
            raise DataValidationError(
                f"{what} has {int(np.sum(~np.isfinite(vals)))} infinite value(s); {what} must "
                "be finite"
            )
    if t is not None:
        if np.any(np.abs(t - np.rint(t)) > 1e-7):
            raise DataValidationError(
                f"trials has {int(np.sum(np.abs(t - np.rint(t)) > 1e-7))} non-integer value(s); "
                "the number of trials must be a whole number"
            )
        if np.any(t < 0) or np.any(y < 0) or np.any(y > t):
            bad = int(np.sum((t < 0) | (y < 0) | (y > t)))
            raise DataValidationError(
                f"{bad} rows have successes outside 0..trials; the response must count "
                "successes out of the trials column"
            )
        pw = t
        y = np.divide(y, t, out=np.zeros_like(y), where=t > 0)
        trials_used = True
    elif w is not None:
        if np.any(w < 0):
            raise DataValidationError("weights must be non-negative")
        pw = w
        trials_used = fam.name == "binomial" and bool(np.any(w > 1))
    positive = pw > 0
    if not positive.any():
        raise DataValidationError(
            "every row has zero trials or zero weight, so the data carry no information"
        )
    X_pos = np.asarray(design.X, dtype=float)[positive]
    if np.linalg.matrix_rank(X_pos) < design.X.shape[1]:
        raise DataValidationError(
            f"the {int(positive.sum())} rows with positive trials/weights do not identify all "
            f"fixed effects {list(design.fixed_names)} (rows with zero trials or weight carry "
            "no information); drop those terms or rows"
        )
    if fam.name == "binomial":
        if np.any(y < 0) or np.any(y > 1):
            raise DataValidationError(
                f"binomial response {response_label!r} must be 0/1 (or a proportion with "
                "weights=); for counts of successes give trials= or a cbind(successes, "
                "failures) response"
            )
        k = y * pw
        if np.any(np.abs(k - np.rint(k)) > 1e-7):
            raise DataValidationError(
                f"binomial response {response_label!r} implies non-integer numbers of "
                "successes; check the trials/weights"
            )
    else:
        if np.any(y < 0) or np.any(np.abs(y - np.rint(y)) > 1e-7):
            raise DataValidationError(
                f"Poisson response {response_label!r} must hold non-negative whole counts"
            )
    off = np.asarray(design.offset, dtype=float).copy()
    o = _get("offset")
    if o is not None:
        if not np.all(np.isfinite(o)):
            raise DataValidationError(
                "offset has non-finite values (e.g. log of zero exposure); drop those rows"
            )
        off = off + o
    return _Prepared(
        design=design,
        y=y,
        pw=pw,
        offset=off,
        family=fam,
        offset_col=extra["offset"][1],
        offset_array=extra["offset"][2],
        n_dropped=design.n_dropped + n_extra,
        trials_used=trials_used,
        response=response_label,
        response_coding=response_coding,
    )


def _normalise_cbind(formula: str) -> tuple[str, bool]:
    """Check a ``cbind(successes, failures)`` response and write it as ``build_design`` reads it.

    Returns the formula (with ``cbind (`` spelled ``cbind(``) and whether it has such a response;
    the parts themselves are evaluated by :func:`~alliancestats.models.design.build_design`.
    """
    from alliancestats.models.formula import split_top_level

    sides = split_top_level(formula, "~")
    if len(sides) != 2:
        return formula, False
    lhs = sides[0].strip()
    m = re.fullmatch(r"cbind\s*\((.*)\)", lhs)
    if not m:
        return formula, False
    parts = [p.strip() for p in split_top_level(m.group(1), ",")]
    if len(parts) != 2 or not all(parts):
        raise FormulaError(f"cbind() response {lhs!r} needs exactly two parts")
    return f"cbind({parts[0]}, {parts[1]}) ~ {sides[1]}", True


def _re_structure(design: Design) -> ReStructure:
    terms = [
        ReTermSpec(
            group=b.group,
            cnames=tuple(b.colnames),
            codes=np.asarray(b.codes, dtype=np.intp),
            levels=tuple(b.levels),
            X=np.asarray(b.Z, dtype=float),
        )
        for b in design.random
    ]
    return ReStructure.from_terms(terms)


@dataclass
class _Fit:
    theta: np.ndarray
    beta: np.ndarray
    deviance: float
    grad: np.ndarray
    hess: np.ndarray
    nfev: int
    stage1_theta: np.ndarray
    messages: list[str] = field(default_factory=list)
    optimizer_ok: bool = True
    optimizer_message: str = ""
    gradient_method: str = "finite differences"
    scale: np.ndarray | None = None
    scaled_grad: np.ndarray | None = None
    scaled_hess: np.ndarray | None = None


def _fit(problem: PirlsProblem, nagq: int, beta0: np.ndarray) -> _Fit:
    re = problem.re
    ntheta = re.theta_start.size
    counter = {"n": 0}
    big = 1e100

    # stage 1: theta with beta at the joint conditional mode (glmer's nAGQ = 0 step)
    state = {"beta": beta0.copy()}

    def stage1(th):
        counter["n"] += 1
        try:
            b, crit = problem.joint_mode(th, state["beta"])
        except EstimationError:
            return big
        if np.all(np.isfinite(b)):
            state["beta"] = b
        return crit if np.isfinite(crit) else big

    problem.reset()
    # stage 1 only supplies starting values, so a loose tolerance suffices
    res1 = _minimize(stage1, re.theta_start.copy(), re.theta_lower, ftol=1e-6, maxiter=50)
    theta1 = np.asarray(res1.x, dtype=float)
    problem.reset()
    try:
        beta1, _ = problem.joint_mode(theta1, state["beta"])
    except EstimationError:  # keep the best fixed effects seen in stage 1
        beta1 = state["beta"].copy()
        problem.reset()

    # stage 2: (theta, beta) on the Laplace / AGQ deviance
    def dev(par):
        counter["n"] += 1
        th, b = par[:ntheta], par[ntheta:]
        try:
            if nagq == 1:
                val = problem.laplace(th, b)
            else:
                val = agq_deviance(problem, th, b, nagq)[0]
        except EstimationError:
            return big
        return val if np.isfinite(val) else big

    lower = np.concatenate([re.theta_lower, np.full(beta1.size, -np.inf)])
    x0 = np.concatenate([theta1, beta1])
    analytic = nagq == 1 and problem.has_gradient

    def dev_grad(par):
        counter["n"] += 1
        try:
            val, gr = problem.laplace_gradient(par[:ntheta], par[ntheta:])
        except EstimationError:
            return big, np.zeros_like(par)
        if not (np.isfinite(val) and np.all(np.isfinite(gr))):
            return big, np.zeros_like(par)
        return val, gr

    def derivs(x, fx):
        if not analytic:
            return _deriv12(dev, x, lower, fx)
        return _hessian_from_gradient(dev_grad, x, lower)

    def stage2(start):
        if analytic:
            bounds = [(lo if np.isfinite(lo) else None, None) for lo in lower]
            res = optimize.minimize(
                dev_grad,
                np.maximum(start, np.where(np.isfinite(lower), lower, -np.inf)),
                jac=True,
                method="L-BFGS-B",
                bounds=bounds,
                options={"maxiter": 500, "ftol": 1e-13, "gtol": 1e-8, "maxcor": 20},
            )
        else:
            res = _minimize(dev, start, lower, ftol=1e-11)
        xr = np.asarray(res.x, dtype=float)
        return res, xr, dev(xr)

    res2, x, fx = stage2(x0)
    # A standard deviation of exactly zero is a stationary point of the deviance by symmetry
    # (d/d theta = 0 at theta = 0), so a search that lands there cannot leave it. Restart from
    # a positive value and keep whichever optimum is lower.
    on_edge = np.isfinite(lower[:ntheta]) & (x[:ntheta] - lower[:ntheta] < _SINGULAR_TOL)
    if np.any(on_edge):
        restart = x.copy()
        restart[:ntheta][on_edge] = np.maximum(theta1[on_edge], 0.5)
        res_r, x_r, f_r = stage2(restart)
        if f_r < fx - 1e-10 * abs(fx):
            res2, x, fx = res_r, x_r, f_r
    messages = []
    ok = bool(res2.success)
    optimizer_message = str(res2.message)
    g, H = derivs(x, fx)
    # Newton steps from the finite-difference derivatives polish the optimum
    for _ in range(4):
        free = ~(np.isfinite(lower) & (x - lower < 1e-8) & (g > 0))
        try:
            step = np.zeros_like(x)
            step[free] = -np.linalg.solve(H[np.ix_(free, free)], g[free])
        except np.linalg.LinAlgError:
            break
        if not np.all(np.isfinite(step)) or np.max(np.abs(step)) < 1e-7:
            break
        cand = np.maximum(x + step, np.where(np.isfinite(lower), lower, -np.inf))
        fc = dev(cand)
        if not fc < fx:
            break
        x, fx = cand, fc
        if np.max(np.abs(step)) < 1e-4:
            # a tiny Newton step: the Hessian is unchanged to the accuracy that matters for
            # standard errors, and the gradient at the new point is ~ g + H step
            g = g + H @ step
            break
        g, H = derivs(x, fx)
    dev(x)  # leave the PIRLS state at the optimum
    return _Fit(
        theta=x[:ntheta],
        beta=x[ntheta:],
        deviance=fx,
        grad=g,
        hess=H,
        nfev=counter["n"],
        stage1_theta=theta1,
        messages=messages,
        optimizer_ok=ok,
        optimizer_message=optimizer_message,
        gradient_method="analytic" if analytic else "finite differences",
    )


# ---------------------------------------------------------------------------- assembling
def _varcorr(re: ReStructure, theta: np.ndarray) -> pd.DataFrame:
    rows = []
    for k, t in enumerate(re.terms):
        T = re.term_factor(theta, k)
        S = T @ T.T
        sd = np.sqrt(np.diag(S))
        for i, nm in enumerate(t.cnames):
            rows.append((t.group, nm, None, S[i, i], sd[i]))
        for i in range(t.size):
            for j in range(i + 1, t.size):
                denom = sd[i] * sd[j]
                cor = S[i, j] / denom if denom > 0 else np.nan
                rows.append((t.group, t.cnames[i], t.cnames[j], S[i, j], cor))
    return pd.DataFrame(rows, columns=["grp", "var1", "var2", "vcov", "sdcor"])


_CONDVAR_MAX_Q = 2000  # conditional variances for general designs need a dense A^-1


def _ranef(problem: PirlsProblem, theta: np.ndarray, weights: np.ndarray) -> tuple[dict, dict]:
    """Conditional modes ``b = Lambda u`` and their conditional covariances (lme4 condVar:
    blocks of ``Lambda A^-1 Lambda'``)."""
    re = problem.re
    lam = re.lambda_matrix(theta)
    b = lam @ problem._u
    V = None
    if not problem.is_scalar and re.q <= _CONDVAR_MAX_Q:
        ops = problem.ops
        fac = ops.factor(ops.values(theta), weights)
        Ainv = fac.solve(np.eye(re.q))
        V = np.asarray(lam @ (lam @ Ainv.T).T)
    out, condvar = {}, {}
    for k, t in enumerate(re.terms):
        off, s = re.offsets[k], t.size
        blk = b[off : off + s * t.nlevels].reshape(t.nlevels, s)
        out[t.group] = pd.DataFrame(blk, index=pd.Index(t.levels, name=t.group), columns=t.cnames)
        if problem.is_scalar:
            condvar[t.group] = (theta[0] ** 2 / problem._last_diag).reshape(-1, 1, 1)
        elif V is not None:
            idx = off + np.arange(t.nlevels)[:, None] * s + np.arange(s)[None, :]
            condvar[t.group] = V[idx[:, :, None], idx[:, None, :]]
    return out, condvar


def _sdcor(re: ReStructure, theta: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """SDs and correlations of the random effects in lme4's ``confint`` order and names."""
    vals, names = [], []
    for k, t in enumerate(re.terms):
        T = re.term_factor(theta, k)
        S = T @ T.T
        sd = np.sqrt(np.clip(np.diag(S), 0.0, None))
        for j in range(t.size):
            for i in range(j, t.size):
                if i == j:
                    vals.append(sd[i])
                    names.append(f"sd_{t.cnames[i]}|{t.group}")
                else:
                    vals.append(S[i, j] / (sd[i] * sd[j]) if sd[i] * sd[j] > 0 else 0.0)
                    names.append(f"cor_{t.cnames[i]}.{t.cnames[j]}|{t.group}")
    return np.array(vals), names


def _wald_varcorr_fn(re: ReStructure, theta: np.ndarray, hess: np.ndarray):
    """Wald intervals for SDs/correlations: delta method on ``2 H^-1`` (theta block)."""

    def wald(level: float) -> pd.DataFrame:
        phi, names = _sdcor(re, theta)
        nt = theta.size
        try:
            V = 2.0 * np.linalg.inv(hess)[:nt, :nt]
        except np.linalg.LinAlgError:
            V = np.full((nt, nt), np.nan)
        J = np.empty((phi.size, nt))
        h = 1e-6
        for j in range(nt):
            e = np.zeros(nt)
            e[j] = h
            if np.isfinite(re.theta_lower[j]) and theta[j] - h < re.theta_lower[j]:
                J[:, j] = (_sdcor(re, theta + e)[0] - phi) / h
            else:
                J[:, j] = (_sdcor(re, theta + e)[0] - _sdcor(re, theta - e)[0]) / (2 * h)
        se = np.sqrt(np.clip(np.diag(J @ V @ J.T), 0.0, None))
        z = stats.norm.ppf(0.5 + level / 2)
        is_sd = np.array([n.startswith("sd_") for n in names])
        lo = np.where(is_sd, np.maximum(phi - z * se, 0.0), np.maximum(phi - z * se, -1.0))
        hi = np.where(is_sd, phi + z * se, np.minimum(phi + z * se, 1.0))
        return pd.DataFrame({"estimate": phi, "ci_low": lo, "ci_high": hi}, index=names)

    return wald


def _profile_fn(
    problem: PirlsProblem, theta: np.ndarray, beta_s: np.ndarray, nagq: int, fit, fixed_names
):
    """Profile-likelihood intervals (lme4's ``confint(method = "profile")``).

    For each random-effect SD ``theta_k`` (models whose terms are all scalar, where
    ``theta_k`` is the SD) and each fixed effect, the deviance is minimised over all other
    parameters with that one held fixed; the interval ends are where the profiled deviance
    exceeds its minimum by the chi-square(1) quantile. A lower end of 0 for an SD means the
    interval reaches the boundary.
    """
    re = problem.re
    nt = theta.size
    x_hat = np.concatenate([theta, beta_s])
    lower_all = np.concatenate([re.theta_lower, np.full(beta_s.size, -np.inf)])
    use_grad = nagq == 1 and problem.has_gradient

    def value_grad(x):
        if use_grad:
            return problem.laplace_gradient(x[:nt], x[nt:])
        f = (
            problem.laplace(x[:nt], x[nt:])
            if nagq == 1
            else agq_deviance(problem, x[:nt], x[nt:], nagq)[0]
        )
        return f, None

    def profiled(k: int, t: float, start: np.ndarray) -> tuple[float, np.ndarray]:
        keep = np.arange(x_hat.size) != k

        def fg(y):
            x = np.empty(x_hat.size)
            x[keep] = y
            x[k] = t
            try:
                f, g = value_grad(x)
            except EstimationError:
                return 1e100, np.zeros(y.size)
            if g is None:
                g = _fd_grad(lambda z: value_grad(np.insert(z, k, t))[0], y, lower_all[keep], f)
            else:
                g = g[keep]
            return f, g

        bounds = [(lo if np.isfinite(lo) else None, None) for lo in lower_all[keep]]
        res = optimize.minimize(
            fg,
            start[keep],
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"ftol": 1e-12, "gtol": 1e-7, "maxiter": 500},
        )
        x = np.empty(x_hat.size)
        x[keep] = res.x
        x[k] = t
        return float(res.fun), x

    def profiler(level: float) -> pd.DataFrame:
        with _single_threaded_blas(), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return _profile(level)

    def _profile(level: float) -> pd.DataFrame:
        if any(t.size != 1 for t in re.terms):
            raise ModelSpecificationError(
                "profile intervals are implemented for models whose random-effect terms are "
                "all scalar (random intercepts); use confint(method='wald')"
            )
        crit = stats.chi2.ppf(level, 1)
        dev0 = fit.deviance
        try:
            se_all = np.sqrt(np.clip(np.diag(2.0 * np.linalg.inv(fit.scaled_hess)), 0, None))
        except np.linalg.LinAlgError:
            se_all = np.full(x_hat.size, np.nan)
        names = [f"sd_{t.cnames[0]}|{t.group}" for t in re.terms] + list(fixed_names)
        scale = np.concatenate([np.ones(nt), fit.scale])  # report beta in original units
        rows = {}
        for k in range(x_hat.size):
            est = float(x_hat[k])
            state = {"x": x_hat.copy()}

            def excess(t, k=k, state=state):
                f, x = profiled(k, t, state["x"])
                state["x"] = x
                return f - dev0 - crit

            def search(direction: float, k=k, est=est, state=state) -> float:
                se = se_all[k]
                step = se if np.isfinite(se) and se > 0 else 0.5 * abs(est) + 0.1
                bound = lower_all[k] if direction < 0 else np.inf
                if direction < 0 and np.isfinite(bound):
                    state["x"] = x_hat.copy()
                    if est <= bound or excess(bound) <= 0:
                        return float(bound)  # the interval reaches the boundary
                end, tries = est + direction * step, 0
                if direction < 0 and np.isfinite(bound):
                    end = max(end, bound)
                state["x"] = x_hat.copy()
                while excess(end) < 0 and tries < 30:
                    end = est + direction * step * 2 ** (tries + 1)
                    if direction < 0 and np.isfinite(bound):
                        end = max(end, bound)
                    tries += 1
                if tries == 30:
                    return direction * np.inf
                state["x"] = x_hat.copy()
                lo, hi = (end, est) if direction < 0 else (est, end)
                return float(optimize.brentq(excess, lo, hi, xtol=1e-6 * max(1.0, step)))

            lower, upper = search(-1.0), search(1.0)
            rows[names[k]] = (est / scale[k], lower / scale[k], upper / scale[k])
        problem.pirls(theta, beta_s)  # leave the PIRLS state at the optimum
        return pd.DataFrame.from_dict(
            rows, orient="index", columns=["estimate", "ci_low", "ci_high"]
        )

    return profiler


def _check_singular(re: ReStructure, theta: np.ndarray) -> bool:
    bounded = np.isfinite(re.theta_lower)
    return bool(np.any(theta[bounded] < _SINGULAR_TOL))


def glmm(
    formula: str,
    data: pd.DataFrame,
    *,
    family: str | Family = "binomial",
    link: str | None = None,
    trials: str | np.ndarray | None = None,
    weights: str | np.ndarray | None = None,
    offset: str | np.ndarray | None = None,
    nAGQ: int = 1,  # noqa: N803 - lme4's argument name
    level: float = 0.95,
    check_separation: bool = True,
) -> GlmmResult:
    """Fit a generalised linear mixed model (binomial or Poisson) like ``lme4::glmer``.

    Parameters
    ----------
    formula : str
        lme4 formula, e.g. ``"adhered ~ session + alliance_within + (1 | patient)"``.
        Binomial responses may be 0/1 (numbers or booleans), a two-level categorical column
        (first category = failure, as R), a ``cbind(successes, failures)`` expression, or
        successes with ``trials=``; ``offset(log(exposure))`` terms are allowed.
    data : pandas.DataFrame
        Long-format data, one row per observation (session).
    family : {"binomial", "poisson"} or statsmodels family object
        Response distribution (``sm.families.Binomial()`` etc. are translated).
    link : str, optional
        ``"logit"`` (default), ``"probit"`` or ``"cloglog"`` for binomial; ``"log"`` for
        Poisson.
    trials : str or array, optional
        Number of trials per row (binomial); the response then counts successes.
    weights : str or array, optional
        Prior weights (R's ``weights=``; for a binomial proportion response, the trials).
    offset : str or array, optional
        Offset added to the linear predictor (e.g. a column holding log prescribed
        exercises). Adds to any ``offset(...)`` term of the formula.
    nAGQ : int, default 1
        1 for the Laplace approximation; ``> 1`` for adaptive Gauss-Hermite quadrature with
        that many nodes (only for a single scalar random effect, as in glmer).
    level : float, default 0.95
        Confidence level of the Wald intervals in ``fixed``.
    check_separation : bool, default True
        Run the linear-programming separation check on the fixed part (binomial and
        Poisson) and warn with :class:`~alliancestats.errors.SeparationWarning`.

    Returns
    -------
    GlmmResult
        A :class:`~alliancestats.models.results.MixedResult` with ``fixed`` (columns
        ``estimate, se, df, z, p, ci_low, ci_high``; ``df`` infinite), ``varcorr``,
        ``loglik``, ``deviance`` (-2 log-likelihood), ``aic``, ``bic``, ``ranef``,
        ``predict(newdata, random, type)``, ``fixed_exp()`` (odds or rate ratios),
        ``overdispersion`` and ``separation``.

    Raises
    ------
    FormulaError
        Unknown columns, no random-effects term.
    DataValidationError
        Responses outside the family's support, bad trials/weights/offsets (negative,
        infinite, non-integer trials), a categorical response with other than two
        categories, or no information left in the rows with positive trials/weights.
    ModelSpecificationError
        Unsupported family/link, ``nAGQ > 1`` with several or vector-valued random effects.

    Warns
    -----
    SingularFitWarning
        A variance component is estimated on the boundary (zero variance or perfect
        correlation).
    SeparationWarning
        Complete or quasi-complete separation; names the diverging terms.
    ConvergenceWarning
        The optimum failed lme4's scaled-gradient check.
    DroppedRowsWarning
        Rows with missing values were dropped.

    Notes
    -----
    Laplace approximation by penalised iteratively reweighted least squares and adaptive
    Gauss-Hermite quadrature as in lme4 (Bates, Mächler, Bolker & Walker 2015, J Stat Softw
    67(1); Pinheiro & Bates 1995, J Comput Graph Stat 4(1)). For ``nAGQ > 1`` the
    log-likelihood uses lme4's convention (deviance residuals, i.e. without the saturated
    log-likelihood), so it is comparable only between fits with the same ``nAGQ``.

    Validated against lme4 1.1-31 ``glmer`` (R 4.2.2) on cbpp (binomial with trials; logit,
    probit, cloglog; Laplace and nAGQ = 9), grouseticks (Poisson, two random intercepts;
    nAGQ = 8) and adherence data simulated with ``simulate_sessions`` (binary with patient
    and therapist intercepts, successes out of trials, Poisson with an offset, a correlated
    random slope, near separation; tests/reference/glmm). Tested tolerances: log-likelihood
    1e-5 relative, fixed effects 1e-3, standard errors and variance components 1e-2. Worst
    observed differences to glmer's defaults: log-likelihood 3.1e-6 relative, fixed effects
    5.7e-4, SDs 2e-4, standard errors 1.3% (all on cbpp/logit). glmer's default PIRLS
    tolerance (1e-7 relative) leaves its Laplace deviance slightly inexact; refitted with
    ``glmerControl(tolPwrss = 1e-10)`` it agrees with this implementation to 1e-10 in the
    log-likelihood and 1e-5 in the SEs on cbpp. AGQ fits agree to better than 1e-9.
    Two-level factor responses (either level order) and rows with zero trials agree with
    glmer to the same tolerances (tests/reference/glmm/review_cases.R).
    Conditional modes and variances (``ranef``, ``cond_var``) agree within 5e-4; profile
    intervals (``confint(method="profile")``, models with random intercepts only) within 9e-4
    of lme4's ``confint(method = "profile")``; Wald intervals for SDs use the delta method.

    Standard errors use lme4's default, the inverse Hessian of the deviance in
    ``(theta, beta)``: differences of the exact Laplace gradient (available for a single
    scalar term, or when the PIRLS system fits a dense or block factorisation), otherwise
    second differences of the deviance as lme4's ``deriv12`` (also for ``nAGQ > 1``); the
    ``RX`` approximation is the fallback when that Hessian is not positive definite.

    On lme4's ``cbpp`` data, ``glmm("cbind(incidence, size - incidence) ~ period + (1 |
    herd)", cbpp)`` (``period`` as a factor) gives fixed effects -1.399, -0.992, -1.129,
    -1.580 and herd SD 0.642, as glmer (DOMAIN.md section 5).

    Examples
    --------
    Adherence (0/1 per session) with a patient random intercept (add ``+ (1 | therapist)``
    for therapist effects):

    >>> from alliancestats.simulate import simulate_sessions
    >>> d = simulate_sessions(n_therapists=8, seed=4).dropna(subset=["adhered", "alliance"])
    >>> fit = glmm("adhered ~ session + alliance + (1 | patient)", d)
    >>> fit.fixed.columns.tolist()
    ['estimate', 'se', 'df', 'z', 'p', 'ci_low', 'ci_high']
    >>> fit.fixed_exp().columns.tolist()
    ['odds_ratio', 'ci_low', 'ci_high', 'p']
    >>> bool(fit.predict(d.head(2), type="response").between(0, 1).all())
    True

    Exercises done out of those prescribed (binomial with trials):

    >>> fit2 = glmm("exercises_done ~ alliance + (1 | patient)", d,
    ...             trials="exercises_prescribed")
    >>> bool(fit2.loglik < 0)
    True
    """
    if isinstance(nAGQ, bool) or not isinstance(nAGQ, (int, np.integer)):
        raise ModelSpecificationError(f"nAGQ must be a whole number >= 1, got {nAGQ!r}")
    nagq = int(nAGQ)
    if nagq < 1 or nagq > MAX_NAGQ:
        raise ModelSpecificationError(
            f"nAGQ must be between 1 and {MAX_NAGQ} (nAGQ = 0 is not supported), got {nagq}"
        )
    if not 0 < level < 1:
        raise ValueError("level must be between 0 and 1")
    prep = _prepare(formula, data, family, link, trials, weights, offset)
    design = prep.design
    fam = prep.family
    re = _re_structure(design)
    # the optimiser works on fixed effects of columns scaled to unit root-mean-square, which
    # makes badly scaled predictors (e.g. days in thousands) as easy as well-scaled ones
    scale = np.sqrt(np.mean(design.X**2, axis=0))
    scale[~(scale > 0)] = 1.0
    problem = PirlsProblem(prep.y, design.X / scale, re, fam, prep.pw, prep.offset)
    if nagq > 1 and not problem.is_scalar:
        raise ModelSpecificationError(
            "nAGQ > 1 is only available for a single scalar random-effects term such as "
            "(1 | patient), as in lme4::glmer; use nAGQ=1 (Laplace) for this model"
        )

    beta0, certified = _glm_start(design.X, prep.y, prep.pw, prep.offset, fam)
    sep = SeparationResult(False, False)
    if check_separation and not certified:
        sep = detect_separation(
            design.X, prep.y, design.fixed_names, family=fam.name, weights=prep.pw
        )
        if sep.separated:
            warnings.warn(sep.message(), SeparationWarning, stacklevel=2)
    with _single_threaded_blas():
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            fit = _fit(problem, nagq, beta0 * scale)
        return _assemble(formula, prep, problem, _unscale(fit, scale), nagq, level, sep)


def _unscale(fit: _Fit, scale: np.ndarray) -> _Fit:
    """Express a fit on scaled columns in the original units (``beta = beta_scaled / s``)."""
    P = np.concatenate([np.ones(fit.theta.size), scale])
    fit.scaled_grad, fit.scaled_hess = fit.grad, fit.hess
    fit.scale = scale
    fit.beta = fit.beta / scale
    fit.grad = P * fit.grad
    fit.hess = P[:, None] * fit.hess * P[None, :]
    return fit


def _assemble(formula, prep, problem, fit: _Fit, nagq, level, sep) -> GlmmResult:
    design = prep.design
    fam = prep.family
    re = problem.re
    theta, beta = fit.theta, fit.beta
    beta_s = beta * fit.scale  # fixed effects of the scaled columns the problem holds
    ntheta = theta.size
    p = beta.size
    st = problem.pirls(theta, beta_s)
    problem._last_diag = st.diag
    messages = list(fit.messages)

    # covariance of beta: lme4's Hessian-based vcov, RX-based fallback
    vcov = None
    vcov_method = "hessian"
    try:
        Hinv = np.linalg.inv(fit.hess)
        V = Hinv[ntheta:, ntheta:]
        V = V + V.T  # 2 * inverse Hessian of the deviance, symmetrised (lme4)
        if np.all(np.isfinite(V)) and np.min(np.linalg.eigvalsh(V)) > 0:
            vcov = V
    except np.linalg.LinAlgError:
        vcov = None
    if vcov is None:
        vcov_method = "rx"
        messages.append(
            "variance-covariance matrix from the finite-difference Hessian is not positive "
            "definite; falling back to the RX-based approximation"
        )
        vcov = np.linalg.inv(problem.fixed_info(theta, st)) / np.outer(fit.scale, fit.scale)
    se = np.sqrt(np.diag(vcov))
    z = beta / se
    q = stats.norm.ppf(0.5 + level / 2)
    names = design.fixed_names
    fixed = pd.DataFrame(
        {
            "estimate": beta,
            "se": se,
            "df": np.full(p, np.inf),
            "z": z,
            "p": 2.0 * stats.norm.sf(np.abs(z)),
            "ci_low": beta - q * se,
            "ci_high": beta + q * se,
        },
        index=pd.Index(names, name="term"),
    )

    # convergence check as lme4's checkConv (scaled gradient on free parameters)
    lower = np.concatenate([re.theta_lower, np.full(p, -np.inf)])
    x = np.concatenate([theta, beta])
    free = ~(np.isfinite(lower) & (x - lower < _SINGULAR_TOL))
    # the verdict rests on the gradient check at the polished optimum (as lme4's checkConv),
    # not on the quasi-Newton stopping rule, which may stop on a flat line search
    converged = True
    try:
        # Newton step in the scaled parametrisation the optimiser used
        scgrad = np.linalg.solve(fit.scaled_hess[np.ix_(free, free)], fit.scaled_grad[free])
        max_scgrad = float(np.max(np.abs(scgrad))) if scgrad.size else 0.0
    except np.linalg.LinAlgError:
        max_scgrad = float("nan")
    if not np.isfinite(max_scgrad) or max_scgrad > _GRAD_TOL:
        converged = False
        messages.append(
            f"Model failed to converge: max|scaled gradient| = {max_scgrad:.3g} "
            f"(tolerance {_GRAD_TOL}; optimizer: {fit.optimizer_message}); the model may be "
            "overparameterised or nearly unidentifiable"
        )
    singular = _check_singular(re, theta)
    if singular:
        warnings.warn(
            "boundary (singular) fit: a random-effect variance is estimated as (near) zero or "
            "a correlation as +/-1; simplify the random-effects structure",
            SingularFitWarning,
            stacklevel=3,
        )
    if not converged:
        warnings.warn("; ".join(messages), ConvergenceWarning, stacklevel=3)

    deviance = fit.deviance
    loglik = -0.5 * deviance
    npar = p + ntheta
    nobs = design.nobs
    ranef, condvar = _ranef(problem, theta, st.weights)
    fitted = pd.Series(st.mu, index=design.rows, name="fitted")
    dev_res = np.sign(prep.y - st.mu) * np.sqrt(
        np.maximum(fam.dev_resids(prep.y, st.mu, prep.pw), 0.0)
    )
    residuals = pd.Series(dev_res, index=design.rows, name="residuals")

    overdisp = None
    if fam.name == "poisson" or prep.trials_used:
        chi2 = float(np.sum(fam.pearson_resid(prep.y, st.mu, prep.pw) ** 2))
        dfr = nobs - npar
        overdisp = pd.Series(
            {
                "pearson_chi2": chi2,
                "df": float(dfr),
                "ratio": chi2 / dfr if dfr > 0 else np.nan,
                "p": float(stats.chi2.sf(chi2, dfr)) if dfr > 0 else np.nan,
            },
            name="overdispersion",
        )

    predictor = _make_predictor(prep, problem, theta, beta, beta_s)
    result = GlmmResult(
        formula=formula,
        method="Laplace" if nagq == 1 else f"AGQ({nagq})",
        family=fam.name,
        link=fam.link.name,
        nagq=nagq,
        reml=False,
        response=prep.response,
        fixed=fixed,
        vcov=pd.DataFrame(vcov, index=names, columns=names),
        vcov_method=vcov_method,
        varcorr=_varcorr(re, theta),
        sigma=1.0,
        loglik=loglik,
        deviance=deviance,
        aic=deviance + 2.0 * npar,
        bic=deviance + np.log(nobs) * npar,
        nobs=nobs,
        n_dropped=prep.n_dropped,
        npar=npar,
        ngroups={t.group: t.nlevels for t in re.terms},
        converged=converged,
        optimizer={
            "method": "L-BFGS-B (stage 1: theta; stage 2: theta, beta) + Newton polish",
            "gradient_method": fit.gradient_method,
            "optimizer_success": fit.optimizer_ok,
            "optimizer_message": fit.optimizer_message,
            "evaluations": fit.nfev,
            "stage1_theta": fit.stage1_theta,
            "gradient": fit.grad,
            "max_scaled_gradient": max_scgrad,
            "hessian": fit.hess,
        },
        singular=singular,
        theta=theta,
        beta=beta,
        ranef=ranef,
        cond_var=condvar,
        fitted=fitted,
        residuals=residuals,
        messages=messages + ([prep.response_coding.note] if prep.response_coding else []),
        level=level,
        overdispersion=overdisp,
        separation=sep,
        predictor=predictor,
        wald_varcorr=_wald_varcorr_fn(re, theta.copy(), fit.hess),
        profiler=_profile_fn(problem, theta.copy(), beta_s.copy(), nagq, fit, names),
    )
    result._family = fam
    return result


def _make_predictor(prep: _Prepared, problem: PirlsProblem, theta, beta, beta_scaled):
    design = prep.design
    re = problem.re
    b = re.lambda_matrix(theta) @ problem._u.copy()
    blocks = [
        b[re.offsets[k] : re.offsets[k] + t.size * t.nlevels].reshape(t.nlevels, t.size)
        for k, t in enumerate(re.terms)
    ]
    fitted_offset = prep.offset.copy()
    fitted_eta_fixed = design.X @ beta + fitted_offset
    fitted_eta = problem.pirls(theta, beta_scaled).eta.copy()

    def predictor(newdata: pd.DataFrame | None, random: bool) -> np.ndarray:
        if newdata is None:
            return fitted_eta.copy() if random else fitted_eta_fixed.copy()
        if not isinstance(newdata, pd.DataFrame):
            raise DataValidationError("newdata must be a pandas DataFrame")
        def build(fn, what):
            try:
                return fn()
            except (KeyError, ValueError, TypeError, NameError) as exc:
                raise FormulaError(f"cannot build the {what} for newdata: {exc}") from exc
            except Exception as exc:  # formulaic's own evaluation errors
                if isinstance(exc, (FormulaError, DataValidationError)):
                    raise
                raise FormulaError(f"cannot build the {what} for newdata: {exc}") from exc

        X = build(lambda: design.fixed_matrix(newdata), "fixed-effects matrix")
        eta = X @ beta
        for off in design.parsed.offsets:
            mm = build(
                lambda off=off: safe_model_matrix(f"0 + {off}", newdata, where="offset").frame,
                f"offset {off!r}",
            )
            eta = eta + np.asarray(mm, dtype=float)[:, 0]
        if prep.offset_col is not None:
            if prep.offset_col not in newdata.columns:
                raise FormulaError(f"newdata needs the offset column {prep.offset_col!r}")
            eta = eta + newdata[prep.offset_col].to_numpy(dtype=float)
        elif prep.offset_array:
            raise ModelSpecificationError(
                "the model was fitted with offset= given as an array; pass the offset as a "
                "column name to predict for new data"
            )
        if random:
            for k, blk in enumerate(blocks):
                Zk, codes = build(
                    lambda k=k: design.random_matrix(k, newdata),
                    f"random-effects term for {design.random[k].group!r} (or pass random=False)",
                )
                seen = codes >= 0
                contrib = np.zeros(len(newdata))
                contrib[seen] = np.sum(Zk[seen] * blk[codes[seen]], axis=1)
                eta = eta + contrib
        return eta

    return predictor
