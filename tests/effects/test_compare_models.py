"""compare_models: numbers taken from the fits, layout and exports."""

from __future__ import annotations

import warnings

import pytest

import alliancestats as als
from alliancestats.errors import ModelSpecificationError, ParameterError


@pytest.fixture(scope="module")
def fits(reference_fit):
    path = "../lmm/data/sleepstudy.csv"
    return {
        "Intercepts": reference_fit(path, "Reaction ~ Days + (1 | Subject)"),
        "Slopes": reference_fit(path, "Reaction ~ Days + (Days | Subject)"),
    }


@pytest.fixture(scope="module")
def cbpp(reference_fit):
    return reference_fit("../glmm/data/cbpp.csv",
                         "cbind(incidence, size - incidence) ~ period + (1 | herd)",
                         "binomial", "logit")


def test_values_come_from_the_fits(fits):
    tab = als.compare_models(fits)
    v = tab.values.set_index(["model", "row"])
    slopes = fits["Slopes"]
    assert v.loc[("Slopes", "Days"), "estimate"] == slopes.fixed.loc["Days", "estimate"]
    assert v.loc[("Slopes", "Days"), "se"] == slopes.fixed.loc["Days", "se"]
    assert v.loc[("Slopes", "Subject: SD Days"), "estimate"] == pytest.approx(5.922, abs=1e-3)
    assert v.loc[("Slopes", "ICC (adjusted)"), "estimate"] == als.icc(slopes).adjusted
    assert v.loc[("Slopes", "R² conditional"), "estimate"] == als.r2(slopes).conditional
    assert v.loc[("Intercepts", "AIC"), "estimate"] == fits["Intercepts"].aic
    assert v.loc[("Slopes", "N Subject"), "estimate"] == 18


def test_layout(fits):
    frame = als.compare_models(fits, stars=True).to_frame()
    assert list(frame.columns) == ["Intercepts", "Slopes"]
    assert list(dict.fromkeys(frame.index.get_level_values(0))) == [
        "Fixed effects", "Random effects", "Model fit"]
    random_rows = list(frame.loc["Random effects"].index)
    assert random_rows[-1] == "Residual: SD"  # residual last, as lme4 prints it
    # Days 10.467 (SE 1.546, p = 3e-6) in the slopes model; missing rows stay blank
    assert frame.loc[("Fixed effects", "Days"), "Slopes"] == "10.47*** (1.55)"
    assert frame.loc[("Random effects", "Subject: SD Days"), "Intercepts"] == ""


def test_statistic_options(fits, cbpp):
    ci = als.compare_models(fits, statistic="ci", level=0.9).to_frame()
    lo, hi = fits["Slopes"].confint("wald", level=0.9).loc["Days", ["ci_low", "ci_high"]]
    assert ci.loc[("Fixed effects", "Days"), "Slopes"] == f"10.47 [{lo:.2f}, {hi:.2f}]"
    none = als.compare_models(fits, statistic="none", digits=3).to_frame()
    assert none.loc[("Fixed effects", "Days"), "Slopes"] == "10.467"
    var = als.compare_models(fits, variance="variance").to_frame()
    assert ("Random effects", "Subject: Variance Days") in var.index
    ors = als.compare_models([cbpp], exponentiate=True, statistic="ci").to_frame()
    # exp(-0.992) = 0.371 with Wald interval ends exp(-1.593) = 0.20 and exp(-0.391) = 0.68
    assert ors.loc[("Fixed effects", "period2"), "Model 1"] == "0.37 [0.20, 0.68]"


def test_notes(fits, cbpp):
    notes = als.compare_models([fits["Slopes"], cbpp], stars=True).notes
    assert notes[0] == "Standard errors in parentheses."
    assert any("p < .05" in n for n in notes)
    assert any("logit link" in n and "sigma^2" in n for n in notes)


def test_exports(fits, tmp_path):
    tab = als.compare_models(fits, names=None, stars=True)
    md = tab.to_markdown()
    assert md.splitlines()[0] == "|  | Intercepts | Slopes |"
    assert "| **Random effects** |" in md and md.rstrip().splitlines()[-1].startswith("*Note.*")
    html = tab.to_html()
    assert html.startswith('<table class="alliancestats-models">') and "<tfoot>" in html
    tex = tab.to_latex()
    assert tex.startswith(r"\begin{tabular}{lcc}") and r"R$^2$ marginal" in tex
    path = tmp_path / "models.docx"
    doc = tab.to_docx(path)
    assert path.exists() and path.stat().st_size > 0
    table = doc.tables[0]
    assert table.cell(0, 1).text == "Intercepts"
    assert table.cell(2, 0).text == "(Intercept)" and "251.41" in table.cell(2, 2).text


def test_markdown_escapes_pipes(fits):
    md = als.compare_models({"a|b": fits["Slopes"]}).to_markdown()
    assert "a\\|b" in md.splitlines()[0]


def test_singular_fit_is_noted(reference_fit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = reference_fit("../lmm/data/sim_arms.csv", "pain ~ session + alliance_within + "
                            "alliance_between + (1 | therapist/patient)")
        notes = als.compare_models([fit]).notes
    assert any("singular" in n for n in notes)


def test_bad_input(fits, cbpp):
    with pytest.raises(ParameterError, match="names"):
        als.compare_models(list(fits.values()), names=["a"])
    with pytest.raises(ParameterError, match="either"):
        als.compare_models(fits, names=["a", "b"])
    with pytest.raises(ModelSpecificationError, match="Model 1"):
        als.compare_models([object()])
    with pytest.raises(ModelSpecificationError, match="GLMM"):
        als.compare_models(fits, exponentiate=True)
    with pytest.raises(ParameterError):
        als.compare_models(fits, statistic="t")
    with pytest.raises(ParameterError):
        als.compare_models([])
