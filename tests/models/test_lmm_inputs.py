"""What lmm() accepts: responses on any scale, SessionData, and clear refusals."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from lmm_review_data import complete, quiet_fit, ref_fit, sites

from alliancestats.errors import (
    AllianceStatsWarning,
    DataQualityWarning,
    DroppedRowsWarning,
    FormulaError,
    ModelSpecificationError,
    ParameterError,
    RankDeficiencyWarning,
)
from alliancestats.models import lmm
from alliancestats.simulate import simulate_sessions


@pytest.fixture(scope="module")
def sessions():
    return simulate_sessions(n_therapists=6, seed=8).dropna(subset=["pain"])


@pytest.mark.parametrize("factor", [1e-12, 1e12])
def test_response_on_a_tiny_or_huge_scale_is_fitted(sessions, factor):
    # an exact-fit check with an absolute threshold refused y * 1e-12
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllianceStatsWarning)
        base = lmm("pain ~ session + (1 | patient)", sessions)
        scaled = lmm("y ~ session + (1 | patient)", sessions.assign(y=sessions["pain"] * factor))
    np.testing.assert_allclose(scaled.fixed["estimate"], base.fixed["estimate"] * factor, rtol=1e-5)
    np.testing.assert_allclose(scaled.fixed["df"], base.fixed["df"], rtol=1e-3)
    assert scaled.sigma == pytest.approx(base.sigma * factor, rel=1e-5)


def test_response_reproduced_by_the_fixed_part_is_refused(sessions):
    d = sessions.assign(y=1e-12 * (2.0 + 0.5 * sessions["session"]))
    with pytest.raises(ModelSpecificationError, match="exactly"):
        lmm("y ~ session + (1 | patient)", d)


@pytest.mark.parametrize("dtype", ["string", "string[pyarrow]", "category", "object", "str"])
def test_text_predictor_dtypes(dtype):
    # old: string / string[pyarrow] columns crashed with "could not convert string to float"
    d = sites()
    base = ref_fit("unused_level")
    res = quiet_fit("pain ~ session + site + (1 | patient)", d.assign(site=d["site"].astype(dtype)))
    assert list(res.fixed.index) == list(base.fixed.index)
    np.testing.assert_allclose(res.fixed["estimate"], base.fixed["estimate"], rtol=1e-8)


@pytest.mark.parametrize("dtype", ["string[pyarrow]", "category"])
def test_text_grouping_factor_dtypes(dtype):
    d = sites()
    base = ref_fit("unused_level")
    res = quiet_fit(
        "pain ~ session + site + (1 | patient)", d.assign(patient=d["patient"].astype(dtype))
    )
    assert res.deviance == pytest.approx(base.deviance, rel=1e-10)


def test_nullable_numeric_columns_with_missing_values_are_dropped_and_reported():
    d = complete().copy()
    d["pain"] = d["pain"].astype("Float64")
    d["session"] = d["session"].astype("Int64")
    d.loc[d.index[3], "pain"] = pd.NA
    d.loc[d.index[7], "session"] = pd.NA
    with pytest.warns(DroppedRowsWarning, match="2 of"):
        res = lmm("pain ~ session + site + (1 | patient)", d)
    plain = quiet_fit(
        "pain ~ session + site + (1 | patient)", complete().drop(index=d.index[[3, 7]])
    )
    assert res.n_dropped == 2
    np.testing.assert_allclose(res.fixed["estimate"], plain.fixed["estimate"], rtol=1e-8)


def test_float_grouping_factor_with_nan_drops_rows():
    d = complete().copy()
    d["pid"] = pd.factorize(d["patient"])[0].astype(float)
    d.loc[d.index[:5], "pid"] = np.nan
    with pytest.warns(DroppedRowsWarning):
        res = lmm("pain ~ session + (1 | pid)", d)
    same = quiet_fit("pain ~ session + (1 | patient)", complete().iloc[5:])
    assert res.nobs == len(d) - 5
    assert res.deviance == pytest.approx(same.deviance, rel=1e-10)


def test_constant_response_is_a_clear_error():
    with pytest.raises(ModelSpecificationError, match="zero residual variance"):
        lmm("c ~ session + (1 | patient)", sites().assign(c=3.0))


def test_collinear_predictor_is_dropped_with_warning():
    d = sites().assign(s2=lambda x: 2 * x["session"])
    with (
        pytest.warns(RankDeficiencyWarning, match="s2"),
        pytest.warns(DroppedRowsWarning, match="missing values in \\['pain'\\]"),
    ):
        res = lmm("pain ~ session + s2 + (1 | patient)", d)
    assert "s2" not in res.fixed.index and res.aliased == ["s2"]


def test_one_observation_per_group_is_refused():
    d = sites().groupby("patient").head(1)
    # every patient's first row is session 1, so the session column is aliased with the intercept
    with (
        pytest.raises(ModelSpecificationError, match="smaller than the number of observations"),
        pytest.warns(RankDeficiencyWarning, match="session"),
    ):
        lmm("pain ~ session + (1 | patient)", d)


def test_duplicate_and_non_default_index():
    base = ref_fit("unused_level")
    d = complete().copy()
    d.index = np.zeros(len(d), dtype=int)  # every label the same
    res = quiet_fit("pain ~ session + site + (1 | patient)", d)
    assert res.deviance == pytest.approx(base.deviance, rel=1e-10)
    d.index = pd.RangeIndex(1000, 1000 + 3 * len(d), 3)
    res = quiet_fit("pain ~ session + site + (1 | patient)", d)
    assert res.fitted.index.equals(d.index) and res.predict().index.equals(d.index)


def test_duplicated_column_names_are_a_clear_error():
    # old: AttributeError deep in pandas
    d = complete()
    with pytest.raises(FormulaError, match="more than once"):
        lmm("pain ~ session + (1 | patient)", pd.concat([d, d[["pain"]]], axis=1))


def test_dates_as_predictors_are_refused():
    # old: a datetime column became a factor with one level per date
    d = complete().assign(
        day=pd.Timestamp("2024-01-08") + pd.to_timedelta(complete()["session"], "D")
    )
    with pytest.raises(FormulaError, match="dates or durations"):
        lmm("pain ~ day + (1 | patient)", d)


@pytest.mark.parametrize("kw", [{"reml": "ML"}, {"reml": None}, {"level": 1.5}, {"level": 0}])
def test_bad_reml_or_level_is_refused(kw):
    # old: reml="ML" silently fitted REML; level=1.5 gave NaN confidence limits
    with pytest.raises(ParameterError, match="reml|level"):
        lmm("pain ~ session + (1 | patient)", complete(), **kw)


def test_session_data_input_fits_like_its_frame():
    from alliancestats import load_sessions

    d = complete()
    # complete() drops the rows with missing pain, which leaves gaps in the session numbers
    with pytest.warns(DataQualityWarning, match="gaps in their session numbers"):
        sd = load_sessions(
            d,
            patient="patient",
            session="session",
            therapist="therapist",
            alliance="alliance",
            outcomes=["pain"],
            covariates=["site"],
            strict=False,
        )
    a = quiet_fit("pain ~ session + site + (1 | patient)", sd)
    b = quiet_fit("pain ~ session + site + (1 | patient)", sd.data)
    assert a.deviance == b.deviance and a.nobs == len(sd.data)
