"""Egger-type tests with other predictors, PET-PEESE, trim-and-fill Q0, fail-safe N and
step-function selection models against metafor 3.8-1, plus the GOSH, radial, L'Abbé and
bubble-plot coordinates.

Reference values: tests/reference/meta/publication_bias.R -> publication_bias.json; every case
is consumed (asserted).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from alliancestats.errors import DataQualityWarning, MetaAnalysisError
from alliancestats.meta import (
    effect_sizes,
    egger_test,
    fail_safe_n,
    gosh,
    meta_analysis,
    pet_peese,
    selection_model,
    trim_and_fill,
)
from alliancestats.meta.figure_values import bubble_values, labbe_values, radial_values

REF_DIR = Path(__file__).parents[1] / "reference" / "meta"
REF = json.loads((REF_DIR / "publication_bias.json").read_text())
CASES: dict[str, Any] = REF["cases"]

MOLLOY = effect_sizes(pd.read_csv(REF_DIR / "data" / "molloy2014.csv"), r="ri", n="ni")
BCG_RAW = pd.read_csv(REF_DIR / "data" / "bcg.csv")
BCG = effect_sizes(BCG_RAW, measure="RR", ai="tpos", bi="tneg", ci="cpos", di="cneg").assign(
    ni=lambda d: d["tpos"] + d["tneg"] + d["cpos"] + d["cneg"]
)
FITS = {"molloy": meta_analysis(MOLLOY), "bcg": meta_analysis(BCG)}
HACKSHAW = pd.DataFrame(REF["data"]["hackshaw1998"])

CLOSED = 1e-9  # weighted least squares, ranks, fail-safe formulas: round-off only
ITERATIVE = 1e-5  # contains an iterative τ² (REML) in a refit
SELECTION = 1e-4  # both sides maximise the selection likelihood numerically
SELECTION_SE = 2e-3  # numerical Hessians on both sides (numDeriv's Richardson vs ours)


def _vec(value: Any) -> np.ndarray:
    return np.atleast_1d(np.asarray(value, float))


def _close(actual: Any, expected: Any, rtol: float, atol: float = 1e-12) -> None:
    np.testing.assert_allclose(np.asarray(actual, float), _vec(expected), rtol=rtol, atol=atol)


EGGER = sorted(name for name in CASES if name.startswith("egger_"))
FSN = sorted(name for name in CASES if name.startswith("fsn_"))
CONSUMED = set(EGGER) | set(FSN) | {
    "petpeese_molloy", "petpeese_bcg", "trimfill_molloy_Q0", "trimfill_bcg_Q0",
    "trimfill_li2007_DL_left", "selmodel_hackshaw_3psm", "selmodel_hackshaw_4",
    "selmodel_molloy_3psm", "gosh_bcg8_FE", "gosh_bcg8_DL", "gosh_bcg8_REML",
    "radial_molloy", "labbe_bcg_OR", "regplot_bcg_ablat",
}  # fmt: skip


def test_reference_grid_is_complete():
    assert CONSUMED == set(CASES)
    assert len(EGGER) == 16 and len(FSN) == 8
    assert REF["versions"]["metafor"] == "3.8.1"


@pytest.mark.parametrize("name", EGGER)
def test_egger_with_other_predictors(name):
    _, data, model, predictor = name.split("_", 3)
    ref = CASES[name]
    eg = egger_test(
        FITS[data], model=model, predictor=predictor, ni="ni" if data == "bcg" else None
    )
    tol = CLOSED if model == "lm" else ITERATIVE
    _close(eg.statistic, ref["statistic"], tol)
    _close(eg.p, ref["p"], tol)
    if ref.get("est") is not None:
        _close(
            [eg.limit_estimate, eg.ci_low, eg.ci_high],
            [ref["est"], ref["ci_lb"], ref["ci_ub"]],
            tol,
        )
    else:
        assert np.isnan(eg.limit_estimate)  # the intercept is no limit for predictor 'ni'


@pytest.mark.parametrize("data", ["molloy", "bcg"])
def test_pet_and_peese_intercepts(data):
    ref = CASES[f"petpeese_{data}"]
    pp = pet_peese(FITS[data])
    pet, peese = pp.table.loc["PET"], pp.table.loc["PEESE"]
    _close([pet["estimate"], pet["slope"]], ref["pet"], CLOSED)
    _close(
        [pet["se"], pet["t"], pet["p"]],
        [ref["pet_se"][0], ref["pet_t"][0], ref["pet_p"][0]],
        CLOSED,
    )
    _close([peese["estimate"], peese["slope"]], ref["peese"], CLOSED)
    _close([pet["ci_low"], pet["ci_high"]], ref["pet_ci"], CLOSED)
    _close([peese["ci_low"], peese["ci_high"]], ref["peese_ci"], CLOSED)
    # the conditional rule picks PEESE exactly when PET's one-sided p is below .05
    one_sided = (
        pet["p"] / 2 if np.sign(pet["t"]) == np.sign(FITS[data].estimate) else 1 - pet["p"] / 2
    )
    assert pp.chosen == ("PEESE" if one_sided < 0.05 else "PET")


@pytest.mark.parametrize("data", ["molloy", "bcg"])
def test_trim_and_fill_q0(data):
    ref = CASES[f"trimfill_{data}_Q0"]
    tf = trim_and_fill(FITS[data], estimator="Q0")
    assert tf.k0 == ref["k0"] and tf.side == ref["side"]
    _close(tf.se_k0, ref["se_k0"], CLOSED)
    _close([tf.estimate, tf.se, tf.tau2], [ref["beta"], ref["se"], ref["tau2"]], ITERATIVE)


def test_trim_and_fill_negative_k0_variance_gives_nan_with_a_warning():
    # the L0 variance formula turned negative used to give se_k0 = 0.0 without a word
    ref = CASES["trimfill_li2007_DL_left"]
    assert ref["se_k0"] is None and ref["k0"] == 0  # metafor: NaN
    res = meta_analysis(yi=ref["yi"], vi=ref["vi"], method="DL")
    with pytest.warns(DataQualityWarning, match="standard error of k0 is undefined"):
        tf = trim_and_fill(res, side="left")
    assert tf.k0 == 0 and np.isnan(tf.se_k0)


def test_trim_and_fill_of_a_knapp_hartung_fit_says_which_test_it_keeps():
    res = meta_analysis(MOLLOY, test="knha")
    tf = trim_and_fill(res)
    assert tf.test == "knha"
    assert "metafor's trimfill() refits the filled data with z tests" in tf.summary()


@pytest.mark.parametrize("name", FSN)
def test_fail_safe_n(name):
    _, data, *kind = name.split("_")
    ref = CASES[name]
    kwargs: dict[str, Any] = {"type": kind[0]}
    if kind[1:] == ["weighted"]:
        kwargs.update(weighted=True, target=0.05)
    out = fail_safe_n(FITS[data], **kwargs)
    assert out.n == ref["fsnum"]
    if ref.get("pval") is not None:
        _close(out.p, ref["pval"], CLOSED)
    if ref.get("meanes") is not None:
        _close(out.estimate, ref["meanes"], CLOSED)


SELMODEL = {
    "selmodel_hackshaw_3psm": (HACKSHAW, "ML", (0.025,)),
    "selmodel_hackshaw_4": (HACKSHAW, "ML", (0.025, 0.1, 0.5, 1)),
    "selmodel_molloy_3psm": (MOLLOY, "REML", (0.025,)),
}


@pytest.mark.parametrize("name", sorted(SELMODEL))
def test_step_function_selection_model(name):
    data, method, steps = SELMODEL[name]
    ref = CASES[name]
    sm = selection_model(meta_analysis(data, method=method), steps=steps)
    _close(sm.table["estimate"], ref["beta"], SELECTION)
    _close(sm.tau2, ref["tau2"], SELECTION, atol=1e-8)
    _close(sm.deltas["delta"], ref["delta"], SELECTION)
    _close(
        [sm.loglik, sm.loglik0, sm.lrt], [ref["ll"], ref["ll0"], ref["LRT"]], SELECTION, atol=1e-6
    )
    _close(sm.lrt_p, ref["LRTp"], SELECTION)
    assert sm.deltas["k"].tolist() == _vec(ref["k"]).astype(int).tolist()
    _close(sm.table["se"], ref["se"], SELECTION_SE)
    _close(sm.deltas["se"].iloc[1:], _vec(ref["se_delta"])[1:], SELECTION_SE)
    if ref.get("se_tau2") is not None:
        _close(sm.se_tau2, ref["se_tau2"], SELECTION_SE)


def test_selection_model_refuses_empty_intervals():
    with pytest.raises(MetaAnalysisError, match="No study has a p value"):
        selection_model(FITS["molloy"], steps=(0.025, 0.0251))


@pytest.mark.parametrize("method", ["FE", "DL", "REML"])
def test_gosh_subsets(method):
    ref = CASES[f"gosh_bcg8_{method}"]
    g = gosh(meta_analysis(BCG.iloc[:8], method=method))
    codes = (g.incl.to_numpy() * (2 ** np.arange(8))).sum(axis=1)
    fits = g.fits.set_axis(codes).loc[np.asarray(ref["incl"], dtype=int)]
    tol = CLOSED if method != "REML" else ITERATIVE
    for col in ("QE", "I2", "H2", "tau2", "estimate"):
        _close(fits[col], ref[col], tol, atol=1e-10)
    assert g.exact and len(g.fits) == 255


def test_radial_coordinates():
    ref = CASES["radial_molloy"]
    values = radial_values(FITS["molloy"])
    _close(values["x"], ref["x"], ITERATIVE)
    _close(values["z"], ref["z"], ITERATIVE)


def test_labbe_coordinates():
    ref = CASES["labbe_bcg_OR"]
    values = labbe_values(BCG_RAW, ai="tpos", bi="tneg", ci="cpos", di="cneg", measure="OR")
    _close(values["x"], ref["x"], CLOSED)
    _close(values["y"], ref["y"], CLOSED)


def test_bubble_plot_band_and_weights():
    ref = CASES["regplot_bcg_ablat"]
    points, band = bubble_values(meta_analysis(BCG, mods="~ ablat"), xvals=ref["xs"])
    for ours, theirs in (("pred", "pred"), ("ci_low", "ci_lb"), ("ci_high", "ci_ub"),
                         ("pi_low", "pi_lb"), ("pi_high", "pi_ub")):  # fmt: skip
        _close(band[ours], ref[theirs], ITERATIVE)
    _close(points["weight"], ref["weights"], ITERATIVE)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(MetaAnalysisError, match="needs a model with a moderator"):
            bubble_values(FITS["bcg"])
