"""MixedResult.predict(): new levels, missing values, unseen groups and clear errors."""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pytest
from lmm_review_data import quiet_fit, ref_fit, sites

from alliancestats.errors import (
    FormulaError,
    ParameterError,
)
from alliancestats.models.glmm import glmm
from alliancestats.models.lmm import lmm


@cache
def arm_fit():
    return quiet_fit("pain ~ session + site + (1 + session | patient)", sites())


def test_predict_new_fixed_level_is_an_error():
    # old: an unseen level of a fixed factor was silently predicted as the reference level
    nd = sites().head(3).assign(site=["north", "east", "west"])
    with pytest.raises(FormulaError, match="'east'"):
        arm_fit().predict(nd)
    with pytest.raises(FormulaError, match="not seen in the fitted data"):
        arm_fit().predict(nd, random=False)


def test_predict_missing_factor_value_gives_nan():
    # old: a missing factor value was predicted as the reference level
    nd = sites().head(3).copy()
    nd["site"] = pd.array(["north", None, "west"], dtype="string[pyarrow]")
    pred = arm_fit().predict(nd)
    assert np.isnan(pred.iloc[1]) and np.isfinite(pred.iloc[[0, 2]]).all()


def test_predict_unseen_group_and_text_dtypes():
    res = arm_fit()
    nd = sites().head(4).copy()
    pop = res.predict(nd, random=False)
    nd2 = nd.assign(patient=["new1", "new2", *nd["patient"].iloc[2:]])
    nd2["site"] = nd2["site"].astype("category")
    pred = res.predict(nd2)
    np.testing.assert_allclose(pred.iloc[:2], pop.iloc[:2])  # unseen: population level
    np.testing.assert_allclose(pred.iloc[2:], res.predict(nd).iloc[2:])


def test_predict_missing_columns_are_clear_errors():
    nd = sites().head(3)
    with pytest.raises(FormulaError, match="site"):
        arm_fit().predict(nd.drop(columns="site"))
    with pytest.raises(FormulaError, match="random=False"):
        arm_fit().predict(nd.drop(columns="patient"))
    with pytest.raises(ParameterError, match="DataFrame"):
        arm_fit().predict(nd.to_dict())


def test_random_slope_on_factor_predicts_with_factor_levels():
    res = ref_fit("slope_on_factor")
    nd = sites().head(2).assign(arm=["control", "zzz"])
    with pytest.raises(FormulaError, match="zzz"):
        res.predict(nd)


def test_predict_matches_float_group_ids_to_integer_groups(small) -> None:
    # before the review: a patient id 1.0 in newdata (e.g. a float column) did not match the
    # fitted group 1 and silently got the population-level prediction
    d = small.assign(gi=small["g"].str[1:].astype(int))
    fit = glmm("y ~ x + (1 | gi)", d)
    as_int = fit.predict(pd.DataFrame({"x": [0.1], "gi": [1]}))
    as_float = fit.predict(pd.DataFrame({"x": [0.1], "gi": [1.0]}))
    population = fit.predict(pd.DataFrame({"x": [0.1], "gi": [1]}), random=False)
    assert as_float.iloc[0] == as_int.iloc[0]
    assert as_float.iloc[0] != population.iloc[0]
    d_float = d.assign(gi=d["gi"].astype(float))  # ids fitted as 1.0, 2.0, ...
    fit_f = glmm("y ~ x + (1 | gi)", d_float)
    assert fit_f.predict(pd.DataFrame({"x": [0.1], "gi": [1]})).iloc[0] == pytest.approx(
        fit_f.predict(pd.DataFrame({"x": [0.1], "gi": [1.0]})).iloc[0], rel=1e-12
    )  # the same group, the same number
    pop_f = fit_f.predict(pd.DataFrame({"x": [0.1], "gi": [1]}), random=False)
    assert fit_f.predict(pd.DataFrame({"x": [0.1], "gi": [1]})).iloc[0] != pop_f.iloc[0]


def test_predict_with_standard_errors_and_intervals():
    from alliancestats.effects import predictions
    from alliancestats.simulate import simulate_sessions

    d = simulate_sessions(n_therapists=5, seed=8).dropna(subset=["pain", "adhered"])
    fit = lmm("pain ~ session + (1 | patient)", d)
    new = d.head(4)
    plain = fit.predict(new)
    assert isinstance(plain, pd.Series) and plain.name == "predicted"
    with_se = fit.predict(new, se=True)
    pd.testing.assert_frame_equal(with_se, predictions(fit, new, random=True, interval=None))
    np.testing.assert_allclose(with_se["estimate"], plain)
    ci = fit.predict(new, random=False, interval="confidence", level=0.9)
    pd.testing.assert_frame_equal(ci, predictions(fit, new, interval="confidence", level=0.9))
    pi = fit.predict(new, interval="prediction")
    assert (pi["pi_high"] - pi["pi_low"] > ci["ci_high"] - ci["ci_low"]).all()
    g = glmm("adhered ~ session + (1 | patient)", d)
    gp = g.predict(new, type="response", interval="confidence")
    pd.testing.assert_frame_equal(gp, predictions(g, new, random=True, type="response"))
    assert ((gp["ci_low"] < gp["estimate"]) & (gp["estimate"] < gp["ci_high"])).all()
