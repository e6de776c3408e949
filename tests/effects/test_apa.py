"""APA sentences of mixed-model fixed effects."""

from __future__ import annotations

import pytest

import alliancestats as als


@pytest.fixture(scope="module")
def sleepstudy(reference_fit):
    return reference_fit("../lmm/data/sleepstudy.csv", "Reaction ~ Days + (Days | Subject)")


@pytest.fixture(scope="module")
def cbpp(reference_fit):
    return reference_fit("../glmm/data/cbpp.csv",
                         "cbind(incidence, size - incidence) ~ period + (1 | herd)",
                         "binomial", "logit")


def test_lmm_sentence(sleepstudy):
    # lmerTest: Days 10.467 (SE 1.546), t(17.0) = 6.771, p = 3.26e-06
    text = als.apa(sleepstudy)["Days"]
    assert text == "b = 10.47, SE = 1.55, 95% CI [7.21, 13.73], t(17.0) = 6.77, p < .001"


def test_satterthwaite_df_keep_one_decimal(reference_fit):
    fit = reference_fit("../lmm/data/sim_unbalanced.csv",
                        "pain ~ session + alliance_within + alliance_between + "
                        "(1 + session | patient) + (1 | therapist)")
    df = fit.fixed.loc["alliance_between", "df"]
    assert f"t({df:.1f})" in als.apa(fit)["alliance_between"]


def test_glmm_sentence_has_odds_ratio(cbpp):
    text = als.apa(cbpp)["period2"]
    # glmer (tight PIRLS tolerance): -0.992 (SE 0.307), CI [-1.593, -0.391], z = -3.236,
    # p = .0012; exp of the estimate and interval ends: 0.37 [0.20, 0.68]
    assert text == "b = -0.99, SE = 0.31, OR = 0.37, 95% CI [0.20, 0.68], z = -3.24, p = .001"


def test_digits_and_level(sleepstudy):
    text = als.apa(sleepstudy, digits=3, level=0.9)["Days"]
    assert text.startswith("b = 10.467, SE = 1.546, 90% CI [")


def test_method_and_index(sleepstudy):
    sentences = sleepstudy.apa()
    assert list(sentences.index) == ["(Intercept)", "Days"]
