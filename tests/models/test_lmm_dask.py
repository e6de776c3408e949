"""lmm on a Dask DataFrame gives the in-memory fit (LocalCluster and the default scheduler).

The Dask path sums the same cross-products in another order (per partition, per cell, then
added), so the sums agree with the in-memory ones to floating-point summation order. At the
same θ the criterion and β then agree to 1e-11 relative; the optimiser (BOBYQA) follows a
path that these last-bit differences can change, so the estimates agree to the optimiser's
own precision (see the tolerances below).
"""

from __future__ import annotations

import subprocess
import sys
import warnings

import dask.dataframe as dd
import distributed  # the 'test' extra installs dask[distributed]
import numpy as np
import pandas as pd
import pytest

from alliancestats.errors import (
    DroppedRowsWarning,
    FormulaError,
    ModelSpecificationError,
    OutOfCoreError,
    RankDeficiencyWarning,
)
from alliancestats.models import lmm, lrt
from alliancestats.simulate import simulate_sessions

FORMULAS = [
    "pain ~ session + (1 | patient)",
    "pain ~ session + alliance + (1 + session | patient)",
    "pain ~ session + alliance + (1 | patient) + (1 | therapist)",
    "pain ~ session + alliance + (1 + session | patient) + (1 | therapist)",
    "pain ~ session * arm + log(days + 1) + (1 | patient) + (1 | rater)",  # crossed
]
# estimates after optimisation (fixed effects, SEs, variances, conditional modes): BOBYQA
# stops within its own tolerance, and last-bit differences of the sums can move that end
# point; observed worst 3.3e-7 (relative, or absolute below 1) over these designs
EST_RTOL = 1e-6
# Satterthwaite df: numerical derivatives at that end point; observed worst 3.7e-7
DF_RTOL = 1e-5
# criterion and beta at the same theta from both sets of sums: only floating-point summation
# order differs; observed worst 4.9e-14
SAME_THETA_RTOL = 1e-11


@pytest.fixture(scope="module")
def sessions() -> pd.DataFrame:
    """Unbalanced sessions with missing pain and alliance values, a crossed rater factor,
    rows shuffled so that patients are split across partitions."""
    df = simulate_sessions(n_therapists=10, seed=3)
    rng = np.random.default_rng(5)
    df["rater"] = rng.integers(0, 6, len(df))
    df["pain"] += np.array([-0.8, -0.3, 0.0, 0.2, 0.4, 0.9])[df["rater"]]  # rater variance
    assert df["pain"].isna().any() and df["alliance"].isna().any()
    return df.sample(frac=1.0, random_state=2)


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as c:
        yield c


def _fit(formula, data, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DroppedRowsWarning)
        return lmm(formula, data, **kw)


def _rel(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1.0)))


def _assert_same_fit(mem, out) -> None:
    assert list(out.fixed.index) == list(mem.fixed.index)
    assert (out.nobs, out.n_dropped, out.ngroups) == (mem.nobs, mem.n_dropped, mem.ngroups)
    for col in ["estimate", "se", "t", "ci_low", "ci_high"]:
        assert _rel(out.fixed[col], mem.fixed[col]) < EST_RTOL, col
    assert _rel(out.fixed["df"], mem.fixed["df"]) < DF_RTOL
    assert _rel(out.deviance, mem.deviance) < 1e-10  # the criterion is flat at the optimum
    assert out.varcorr[["grp", "var1", "var2"]].equals(mem.varcorr[["grp", "var1", "var2"]])
    assert _rel(out.varcorr["vcov"], mem.varcorr["vcov"]) < EST_RTOL
    for group, frame in mem.ranef.items():
        assert out.ranef[group].index.equals(frame.index)
        assert _rel(out.ranef[group], frame) < EST_RTOL
        assert _rel(out.cond_var[group], mem.cond_var[group]) < EST_RTOL
    # the sums themselves: criterion and beta at the same theta
    p_mem, p_out = mem.model.problem, out.model.problem
    theta = mem.theta
    assert _rel(p_out.criterion(theta, mem.reml), p_mem.criterion(theta, mem.reml)) < SAME_THETA_RTOL
    beta_mem = p_mem.beta(p_mem.factorize(theta, full=True))
    beta_out = p_out.beta(p_out.factorize(theta, full=True))
    assert _rel(beta_out, beta_mem) < SAME_THETA_RTOL


@pytest.mark.parametrize("formula", FORMULAS)
def test_local_cluster_matches_in_memory_fit(client, sessions, formula):
    mem = _fit(formula, sessions)
    out = _fit(formula, dd.from_pandas(sessions, npartitions=5, sort=False))
    _assert_same_fit(mem, out)


def test_partitioned_by_patient_and_ml(client, sessions):
    formula = FORMULAS[3]
    ddf = dd.from_pandas(sessions, npartitions=4, sort=False).shuffle("patient")
    per_partition = ddf.map_partitions(lambda d: d[["patient"]].drop_duplicates()).compute()
    assert per_partition["patient"].is_unique  # every patient in one partition
    _assert_same_fit(_fit(formula, sessions, reml=False), _fit(formula, ddf, reml=False))


def test_default_scheduler_without_client(sessions):
    formula = FORMULAS[1]
    import dask
    import dask.threaded

    with warnings.catch_warnings(), dask.config.set(scheduler="threads"):
        warnings.simplefilter("ignore", DroppedRowsWarning)
        assert dask.base.get_scheduler() is dask.threaded.get
        out = lmm(formula, dd.from_pandas(sessions, npartitions=3, sort=False))
    _assert_same_fit(_fit(formula, sessions), out)


@pytest.mark.slow
def test_worker_processes(sessions):
    """Two worker processes: the partition functions and the template design travel by
    pickle, as on a real cluster."""
    formula = FORMULAS[3]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster):
        out = _fit(formula, dd.from_pandas(sessions, npartitions=4, sort=False))
        fitted = out.fitted.compute()
    _assert_same_fit(_fit(formula, sessions), out)
    assert len(fitted) == out.nobs


def test_dropped_rows_reported_like_in_memory(client, sessions):
    formula = FORMULAS[2]
    ddf = dd.from_pandas(sessions, npartitions=3, sort=False)
    with pytest.warns(DroppedRowsWarning) as mem_w:
        lmm(formula, sessions)
    with pytest.warns(DroppedRowsWarning) as out_w:
        lmm(formula, ddf)
    assert str(out_w[0].message) == str(mem_w[0].message)


def test_fitted_values_and_residuals_are_lazy_and_match(client, sessions):
    formula = FORMULAS[3]
    mem = _fit(formula, sessions)
    out = _fit(formula, dd.from_pandas(sessions, npartitions=4, sort=False))
    fitted = out.fitted.compute().sort_index()
    resid = out.residuals.compute().sort_index()
    assert fitted.index.equals(mem.fitted.sort_index().index)
    # fitted values inherit the estimates' optimiser tolerance (scale of pain: ~5)
    assert _rel(fitted, mem.fitted.sort_index()) < EST_RTOL
    assert _rel(resid, mem.residuals.sort_index()) < EST_RTOL
    new = sessions.dropna(subset=["pain", "alliance"]).head(5)
    assert _rel(out.predict(new), mem.predict(new)) < EST_RTOL
    assert "Random effects:" in out.summary()


def test_tests_after_the_fit(client, sessions):
    """Sequential F tests, contrasts and likelihood-ratio tests come from the sums; type III
    hypotheses need the rows and are refused."""
    formula = "pain ~ session + arm + (1 + session | patient) + (1 | therapist)"
    small = "pain ~ session + (1 + session | patient) + (1 | therapist)"
    ddf = dd.from_pandas(sessions, npartitions=3, sort=False)
    mem, out = _fit(formula, sessions), _fit(formula, ddf)
    a, b = mem.anova(type=1), out.anova(type=1)
    assert _rel(b.select_dtypes("number"), a.select_dtypes("number")) < DF_RTOL
    assert _rel(out.contrast({"session": 1}), mem.contrast({"session": 1})) < DF_RTOL
    lrt_mem = lrt(mem.refit_ml(), _fit(small, sessions, reml=False))
    lrt_out = lrt(out.refit_ml(), _fit(small, ddf, reml=False))
    assert _rel(lrt_out["chisq"].iloc[1], lrt_mem["chisq"].iloc[1]) < EST_RTOL
    with pytest.raises(OutOfCoreError, match="type=1"):
        out.anova()
    with pytest.raises(ModelSpecificationError, match="different data"):
        lrt(out.refit_ml(), _fit(small, ddf.assign(pain=ddf["pain"] + 1.0), reml=False))


def test_categorical_dtype_and_rank_deficiency(client, sessions):
    df = sessions.assign(arm=sessions["arm"].astype("category"),
                         session2=2.0 * sessions["session"])
    formula = "pain ~ session + session2 + arm + (1 | patient)"
    with pytest.warns(RankDeficiencyWarning):
        mem = _fit(formula, df)
    with pytest.warns(RankDeficiencyWarning):
        out = _fit(formula, dd.from_pandas(df, npartitions=4, sort=False))
    assert out.model.design.aliased == mem.model.design.aliased == ["session2"]
    _assert_same_fit(mem, out)


def test_rows_needed_raise_out_of_core_error(client, sessions):
    out = _fit(FORMULAS[0], dd.from_pandas(sessions, npartitions=2, sort=False))
    for call in (lambda: out.predict(), lambda: out.model.profile(0.95),
                 lambda: out.model.refit(np.zeros(3)), lambda: out.model.kenward_roger(),
                 lambda: out.model.simulate(np.random.default_rng(1)),
                 lambda: out.model.refit_null()):
        with pytest.raises(OutOfCoreError, match="compute"):
            call()
    assert out.refit_ml().method == "ML"  # from the sums: available


@pytest.mark.parametrize(
    ("formula", "kwargs", "error", "match"),
    [
        ("pain ~ scale(session) + (1 | patient)", {}, OutOfCoreError, "whole column"),
        ("pain ~ factor(session) + (1 | patient)", {}, OutOfCoreError, "categorical dtype"),
        ("pain ~ session + (1 | patient)", {"weights": "session"}, OutOfCoreError, "weights"),
        ("pain ~ sesion + (1 | patient)", {}, FormulaError, "did you mean 'session'"),
        ("pain ~ session", {}, FormulaError, "no random-effects term"),
        ("pain ~ date + (1 | patient)", {}, FormulaError, "dates"),
        ("pain ~ session + (1 | one)", {}, ModelSpecificationError, "only 1 level"),
        ("empty ~ session + (1 | patient)", {}, ModelSpecificationError, "no rows left"),
    ],
)
def test_error_paths(client, sessions, formula, kwargs, error, match):
    df = sessions.assign(one="x", empty=np.nan)
    with pytest.raises(error, match=match), warnings.catch_warnings():
        warnings.simplefilter("ignore", DroppedRowsWarning)
        lmm(formula, dd.from_pandas(df, npartitions=2, sort=False), **kwargs)


def test_lmm_module_does_not_import_dask():
    code = "import sys, alliancestats.models.lmm; print('dask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
