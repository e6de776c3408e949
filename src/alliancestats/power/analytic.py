"""Analytic power for two- and three-level longitudinal designs (powerlmm's model).

:func:`longitudinal_power` computes the power of the Wald t test of the time x treatment
coefficient from the exact GLS variance of its estimate under the design (sessions,
caseloads, dropout) and the variance components implied by the standardised inputs. It
reproduces powerlmm 0.4.0 (Magnusson), the R package for these designs that was archived
from CRAN in 2021; see :mod:`alliancestats.power.design` for the model and
:mod:`alliancestats.power.information` for the computation.

Examples
--------
>>> from alliancestats.power import longitudinal_power, cohens_d
>>> res = longitudinal_power(11, 10, 4, icc_pre_subject=0.5, icc_pre_cluster=0,
...                          icc_slope=0.05, var_ratio=0.02, effect_size=cohens_d(-0.8))
>>> round(res.power, 6), res.df
(0.583549, 6.0)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from alliancestats._format import format_number
from alliancestats._validation import check_choice, check_int, check_real
from alliancestats.errors import ParameterError
from alliancestats.power.design import ARMS, LongitudinalDesign, resolve_design
from alliancestats.power.information import build_groups, effect_information

__all__ = ["PowerResult", "longitudinal_power", "power_from_se"]

DF_METHODS = ("between", "satterthwaite")


def power_from_se(effect: float, se: float, df: float, alpha: float = 0.05) -> float:
    """Two-sided power of a t test whose statistic is noncentral t(df, effect / se).

    Examples
    --------
    >>> round(power_from_se(1.0, 0.5, 30), 4)
    0.4904
    """
    ncp = effect / se
    crit = stats.t.ppf(1.0 - alpha / 2.0, df)
    return float(stats.nct.sf(crit, df, ncp) + stats.nct.cdf(-crit, df, ncp))


@dataclass
class PowerResult:
    """Result of :func:`longitudinal_power`.

    Attributes
    ----------
    power, df, se : float
        Power, degrees of freedom and standard error of the time x treatment estimate (means
        over ``n_draws`` realisations when caseloads or the dropout allocation are random).
    alpha : float
    effect : float
        Raw difference between the arms at the last session; ``slope_difference`` is
        ``effect / t_end`` (the tested coefficient).
    df_method : str
    sample_sizes : pandas.DataFrame
        Rows ``therapists, patients``; columns ``control, treatment, total``.
    variance_components : pandas.DataFrame
        ``sd`` and ``variance`` of every component used (``NaN`` when not in the model) and
        the correlations.
    dropout : pandas.DataFrame
        Cumulative proportion lost per session and arm.
    draws : pandas.DataFrame
        One row per realisation: ``power, df, se``; ``mcse`` is the Monte Carlo SE of the mean
        power (0 for a single realisation).
    design : LongitudinalDesign
    """

    power: float
    df: float
    se: float
    alpha: float
    effect: float
    slope_difference: float
    df_method: str
    sample_sizes: pd.DataFrame
    variance_components: pd.DataFrame
    dropout: pd.DataFrame
    draws: pd.DataFrame
    design: LongitudinalDesign = field(repr=False)

    @property
    def mcse(self) -> float:
        """Monte Carlo SE of ``power`` over the realisations (0 when there is one)."""
        n = len(self.draws)
        return float(self.draws["power"].std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0

    def summary(self) -> str:
        """Plain-text summary (design, variance components, dropout, power)."""
        d = self.design
        kind = ("three-level, partially nested" if d.partially_nested
                else "three-level" if d.three_level else "two-level")
        ss = self.sample_sizes
        lines = [
            f"Analytic power, longitudinal {kind} design (time x treatment)",
            f"  sessions: {d.n_sessions} (t = 0 .. {d.t_end:g})",
            "  therapists (control / treatment): "
            f"{_n(ss.loc['therapists', 'control'])} / {_n(ss.loc['therapists', 'treatment'])}",
            "  patients (control / treatment): "
            f"{_n(ss.loc['patients', 'control'])} / {_n(ss.loc['patients', 'treatment'])}",
            f"  dropout: {_dropout_label(d)}",
            f"  effect at last session: {format_number(self.effect, 3)} "
            f"(slope difference {format_number(self.slope_difference, 4)})",
            f"  SE {format_number(self.se, 4)}, df {format_number(self.df, 2)} ({self.df_method}),"
            f" alpha {self.alpha:g}",
            f"  power: {format_number(self.power, 4)}"
            + (f" (MCSE {format_number(self.mcse, 4)}, {len(self.draws)} draws)"
               if len(self.draws) > 1 else ""),
        ]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"PowerResult(power={self.power:.6f}, df={self.df:.4g}, se={self.se:.6g}, "
                f"alpha={self.alpha:g})")


def _n(x: float) -> str:
    return f"{x:g}" if float(x).is_integer() else f"{x:.2f}"


def _dropout_label(d: LongitudinalDesign) -> str:
    labels = {arm: (p.label() if p is not None else "none") for arm, p in d.dropout.items()}
    if labels["control"] == labels["treatment"]:
        return labels["control"]
    return f"control {labels['control']}; treatment {labels['treatment']}"


def longitudinal_power(
    n_sessions: int,
    n_patients: Any,
    n_therapists: Any = None,
    *,
    t_end: float | None = None,
    icc_pre_subject: float,
    icc_pre_cluster: float | None = None,
    icc_slope: float | None = None,
    var_ratio: float | None = None,
    effect_size: Any,
    cor_subject: float | None = 0.0,
    cor_cluster: float | None = 0.0,
    sigma_error: float = 10.0,
    partially_nested: bool = False,
    dropout: Any = None,
    df: str | float = "between",
    alpha: float = 0.05,
    dropout_allocation: str = "expected",
    n_draws: int = 1,
    seed: int | None = None,
) -> PowerResult:
    """Power of the time x treatment test in a two- or three-level longitudinal trial.

    Parameters
    ----------
    n_sessions : int
        Measurement occasions per patient (powerlmm's ``n1``), equally spaced from 0 to
        ``t_end``.
    n_patients : int, list of int, random_caseloads(...) or per_arm(...)
        Patients per therapist (``n2``); a list gives each therapist's caseload (unequal
        caseloads); :func:`~alliancestats.power.random_caseloads` draws them at random. In a
        two-level design (no therapist ICCs) the number of patients per arm.
    n_therapists : int or per_arm(...), optional
        Therapists per arm (``n3``); omit with a caseload list. In a two-level design it
        multiplies ``n_patients``.
    t_end : float, optional
        Time of the last session (default ``n_sessions - 1``).
    icc_pre_subject : float
        Share of the baseline variance between patients (therapist variance included).
    icc_pre_cluster : float, optional
        Share of the baseline variance between therapists; ``None`` leaves the therapist
        intercept out of the model.
    icc_slope : float, optional
        Share of the slope variance between therapists; ``None`` leaves the therapist slope
        out. A design is three-level when either therapist ICC is given.
    var_ratio : float, optional
        Total slope variance over residual variance; ``None``: no random slopes.
    effect_size : float or cohens_d(...)
        Raw difference between the arms at the last session, or a standardised effect
        (:func:`~alliancestats.power.cohens_d`: pretest, posttest or slope SD).
    cor_subject, cor_cluster : float or None, default 0
        Correlations of the random intercepts and slopes; ``None`` leaves the covariance
        out of the model (matters only for Satterthwaite df).
    sigma_error : float, default 10
        Residual SD (power depends only on ratios; powerlmm's default).
    partially_nested : bool, default False
        Therapists only in the treatment arm (e.g. waiting-list controls).
    dropout : weibull_dropout(...), manual_dropout(...) or per_arm(...), optional
        Monotone dropout.
    df : {"between", "satterthwaite"} or float, default "between"
        ``"between"``: therapists in both arms minus 2 when the model has a therapist slope
        (treatment-arm therapists minus 1 when partially nested), otherwise patients minus 2
        (powerlmm's rule); ``"satterthwaite"``: Satterthwaite's approximation (recommended
        for partially nested designs); or a number.
    alpha : float, default 0.05
        Two-sided significance level.
    dropout_allocation : {"expected", "random"}, default "expected"
        How the dropouts of an arm are spread over its therapists: ``"expected"`` gives every
        caseload the arm's average dropout pattern (deterministic); ``"random"`` assigns
        dropouts to patients at random in each of ``n_draws`` realisations, as powerlmm does.
    n_draws : int, default 1
        Realisations averaged over when caseloads or the dropout allocation are random
        (powerlmm's ``R``).
    seed : int, optional
        Seed of those realisations.

    Returns
    -------
    PowerResult
        ``power, df, se``, raw ``effect`` and ``slope_difference``, ``sample_sizes`` per arm,
        the ``variance_components`` used, the ``dropout`` table, ``draws``, ``summary()``.

    Raises
    ------
    ParameterError
        Invalid or inconsistent inputs (e.g. ``icc_pre_cluster > icc_pre_subject``,
        ``icc_slope`` without ``var_ratio``, caseload list and ``n_therapists`` disagreeing).

    Notes
    -----
    The variance of the estimate is the exact GLS variance ``(X'V^-1 X)^-1`` of the model
    ``y ~ time * treatment`` with patient and therapist random intercepts and slopes, with
    dropouts' later sessions removed; power is two-sided from the noncentral t distribution
    with noncentrality ``slope_difference / se`` (powerlmm's ``get_power``; Raudenbush &
    Liu 2001, Psychol Methods 6(4) for balanced designs). Patients leave in whole numbers per
    session by powerlmm's rounding rule.

    In two-level designs and in the control arm of partially nested ones the result is
    deterministic in powerlmm too. In three-level designs with dropout powerlmm samples
    which patients drop out, so its power moves with the seed; the default here is the
    expected allocation, which by concavity of a therapist's information in its caseload's
    information is the upper end of powerlmm's spread (e.g. 0.631280 where powerlmm gives
    0.6288-0.6305); ``dropout_allocation="random"`` with ``n_draws`` averages powerlmm-style
    realisations instead.

    Validated against powerlmm 0.4.0 (tolerance 1e-6 in power): 0.583549 (three-level,
    10 patients x 4 therapists per arm, df 6), 0.309503 and, with Weibull dropout (.3, 1/2),
    0.248772 (two-level, 25 per arm, df 48), 0.415881 (partially nested 5 x 5, df 4),
    0.490288 and 0.562956 (partially / fully nested caseloads 2, 5, 10, 30), plus powerlmm's
    own test cases for the standardisers, the design effect and the Satterthwaite df of
    balanced designs (exactly the between-therapist or between-patient df). Differences:
    powerlmm's Satterthwaite df re-factor the random-effect covariance with a pivoted
    Cholesky whose columns are reordered, which loses the intercept variance whenever a
    slope variance exceeds it with a non-zero correlation; this implementation does not
    reproduce that bug.

    Examples
    --------
    >>> from alliancestats.power import cohens_d, weibull_dropout
    >>> res = longitudinal_power(11, 25, icc_pre_subject=0.5, var_ratio=0.019,
    ...                          effect_size=cohens_d(-0.5), dropout=weibull_dropout(0.3, 0.5))
    >>> round(res.power, 6), res.df
    (0.248772, 48.0)
    >>> res.sample_sizes.loc["patients"].tolist()
    [25, 25, 50]
    """
    design = resolve_design(
        n_sessions, n_patients, n_therapists, t_end=t_end, icc_pre_subject=icc_pre_subject,
        icc_pre_cluster=icc_pre_cluster, icc_slope=icc_slope, var_ratio=var_ratio,
        effect_size=effect_size, cor_subject=cor_subject, cor_cluster=cor_cluster,
        sigma_error=sigma_error, partially_nested=partially_nested, dropout=dropout,
    )
    a = check_real("alpha", alpha, low=0, high=1, low_open=True, high_open=True)
    df_spec = _check_df(df)
    allocation = check_choice("dropout_allocation", dropout_allocation, ("expected", "random"))
    draws = check_int("n_draws", n_draws, 1)
    return power_for_design(design, df_spec, a, allocation, draws, seed)


def _check_df(df: Any) -> str | float:
    if isinstance(df, str):
        value = "satterthwaite" if df == "satterth" else df
        return check_choice("df", value, DF_METHODS)
    if isinstance(df, Real) and not isinstance(df, bool):
        return check_real("df", df, low=0, low_open=True, what="degrees of freedom")
    raise ParameterError(f"df must be 'between', 'satterthwaite' or a number, got {df!r}")


def between_df(design: LongitudinalDesign) -> float:
    """powerlmm's "between" df for a design with fixed caseloads."""
    sizes = design.arm_sizes()
    if design.partially_nested:
        return float(len(design.caseloads["treatment"]) - 1)
    if design.three_level and design.sd["cluster_slope"] is not None:
        return float(sizes["control"][0] + sizes["treatment"][0] - 2)
    return float(sizes["control"][1] + sizes["treatment"][1] - 2)


def power_for_design(design: LongitudinalDesign, df: str | float, alpha: float,
                     allocation: str = "expected", n_draws: int = 1,
                     seed: int | None = None) -> PowerResult:
    """Power of a resolved design (used by :func:`longitudinal_power` and the helpers)."""
    random_alloc = allocation == "random" and design.three_level and any(
        p is not None for p in design.dropout.values())
    if not (design.random_sizes or random_alloc):
        n_draws = 1
    rng = np.random.default_rng(seed)
    delta = design.slope_difference()
    rows, sizes = [], []
    for _ in range(n_draws):
        d = design.draw_caseloads(rng)
        info = effect_information(d, build_groups(d, allocation, rng),
                                  satterthwaite=df == "satterthwaite")
        dfv = (info.satterthwaite_df() if df == "satterthwaite"
               else between_df(d) if df == "between" else float(df))
        rows.append({"power": power_from_se(delta, info.se, dfv, alpha), "df": dfv,
                     "se": info.se})
        sizes.append(d.arm_sizes())
    draws = pd.DataFrame(rows)
    return PowerResult(
        power=float(draws["power"].mean()),
        df=float(draws["df"].mean()),
        se=float(draws["se"].mean()),
        alpha=alpha,
        effect=design.effect_at_end(),
        slope_difference=delta,
        df_method=df if isinstance(df, str) else "fixed",
        sample_sizes=_sample_sizes(sizes),
        variance_components=variance_table(design),
        dropout=dropout_table(design),
        draws=draws,
        design=design,
    )


def _sample_sizes(sizes: list[dict[str, tuple[int, int]]]) -> pd.DataFrame:
    table = {arm: [np.mean([s[arm][0] for s in sizes]), np.mean([s[arm][1] for s in sizes])]
             for arm in ARMS}
    out = pd.DataFrame(table, index=["therapists", "patients"])
    out["total"] = out["control"] + out["treatment"]
    if all(float(v).is_integer() for v in out.to_numpy().ravel()):
        out = out.astype(int)
    return out


def variance_table(design: LongitudinalDesign) -> pd.DataFrame:
    """SDs and variances of the components and the correlations (NaN when not in the model)."""
    rows = {key: (np.nan if sd is None else sd, np.nan if sd is None else sd**2, np.nan)
            for key, sd in design.sd.items()}
    for key, cor in design.cor.items():
        rows[f"cor_{key}"] = (np.nan, np.nan, np.nan if cor is None else cor)
    out = pd.DataFrame.from_dict(rows, orient="index", columns=["sd", "variance", "correlation"])
    out.index.name = "component"
    return out


def dropout_table(design: LongitudinalDesign) -> pd.DataFrame:
    """Cumulative proportion lost by each session, per arm."""
    t = design.time
    out = pd.DataFrame({"time": t})
    for arm in ARMS:
        p = design.dropout[arm]
        out[arm] = np.zeros(len(t)) if p is None else p.proportions(t)
    return out
