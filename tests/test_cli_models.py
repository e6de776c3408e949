"""The demo's model steps: LMMs for pain and ODI, the adherence GLMM and the meta-analysis."""

from __future__ import annotations

import io
import re
import warnings

import numpy as np
import pandas as pd
import pytest

from alliancestats.cli import DEMO_STEPS, run_demo
from alliancestats.errors import AllianceStatsWarning

MODEL_STEMS = ["lmm_pain", "lmm_odi", "glmm_adherence"]
META_TABLES = ["meta_molloy2014", "meta_molloy2014_studies", "pooled_correlations"]
META_FIGURES = ["meta_forest", "meta_funnel"]
MODEL_PARTS = ["fixed.csv", "varcorr.csv", "summary.txt"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo_models")
    stream = io.StringIO()
    ctx = run_demo(out, progress=False, stream=stream)
    return ctx, stream.getvalue()


def test_model_steps_are_registered_after_the_descriptive_ones():
    names = [s.name for s in DEMO_STEPS]
    assert names[:3] == [
        "load and validate the sample cohort",
        "descriptive tables",
        "trajectory figures",
    ]
    assert names[3:] == [
        "alliance-outcome model: pain",
        "alliance-outcome model: disability (ODI)",
        "alliance-adherence model (binomial GLMM)",
        "meta-analysis of the Molloy et al. (2014) table",
    ]


def test_every_model_file_is_written_and_linked(demo):
    ctx, report = demo
    out = ctx.out
    md = (out / "index.md").read_text()
    expected = [f"tables/{stem}_{part}" for stem in MODEL_STEMS for part in MODEL_PARTS]
    expected += [f"tables/{name}.csv" for name in META_TABLES]
    expected += ["tables/meta_molloy2014_summary.txt"]
    expected += [f"figures/{stem}.{ext}" for stem in META_FIGURES for ext in ("png", "svg")]
    for rel in expected:
        assert (out / rel).is_file(), rel
        assert f"]({rel})" in md, rel
        assert str(out / rel) in report, rel
    for stem in META_FIGURES:
        assert (out / "figures" / f"{stem}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert "</svg>" in (out / "figures" / f"{stem}.svg").read_text()
    n_files = sum(1 for p in out.rglob("*") if p.is_file())
    assert f"wrote {n_files} files" in report


def _own_decomposition(loaded: pd.DataFrame) -> pd.DataFrame:
    """The loaded data with alliance split by plain pandas (independent of alliancestats)."""
    d = loaded.copy()
    observed = d["alliance"].notna()
    means = d.groupby("patient")["alliance"].transform("mean")
    d["alliance_between"] = (means - d.loc[observed, "alliance"].mean()).where(observed)
    d["alliance_within"] = (d["alliance"] - means).where(observed)
    return d


@pytest.mark.parametrize(("stem", "response"), [("lmm_pain", "pain"), ("lmm_odi", "odi")])
def test_lmm_tables_match_a_direct_fit(demo, stem, response):
    from alliancestats.models import lmm

    out = demo[0].out
    fixed = pd.read_csv(out / "tables" / f"{stem}_fixed.csv").set_index("term")
    assert list(fixed.index) == ["(Intercept)", "session", "alliance_within", "alliance_between"]
    assert list(fixed.columns) == ["estimate", "se", "df", "t", "p", "ci_low", "ci_high"]
    formula = (
        f"{response} ~ session + alliance_within + alliance_between"
        " + (1 + session | patient) + (1 | therapist)"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllianceStatsWarning)
        direct = lmm(formula, _own_decomposition(demo[0].data), reml=True)
    # CSV round trip keeps 17 significant digits; same data and optimiser -> same numbers
    np.testing.assert_allclose(fixed.to_numpy(), direct.fixed.to_numpy(), rtol=1e-9)
    vc = pd.read_csv(out / "tables" / f"{stem}_varcorr.csv")
    assert list(vc.columns) == ["grp", "var1", "var2", "vcov", "sdcor"]
    assert list(vc["grp"]) == ["patient", "patient", "patient", "therapist", "Residual"]
    summary = (out / "tables" / f"{stem}_summary.txt").read_text()
    assert summary.startswith("Linear mixed model fit by REML")
    assert f"Formula: {formula}" in summary
    assert "Contextual effect (alliance_between - alliance_within)" in summary


def test_lmm_estimates_cover_the_simulation_truth(demo):
    """data/sample/README.md: pain within -0.4, between -1.0; ODI tracks 100 - function
    (function within 2.0, between 6.0), so ODI effects are about -2 and -6."""
    out = demo[0].out
    pain = pd.read_csv(out / "tables" / "lmm_pain_fixed.csv").set_index("term")
    odi = pd.read_csv(out / "tables" / "lmm_odi_fixed.csv").set_index("term")
    for table, term, truth in [
        (pain, "alliance_within", -0.4),
        (pain, "alliance_between", -1.0),
        (odi, "alliance_within", -2.0),
        (odi, "alliance_between", -6.0),
    ]:
        assert table.loc[term, "ci_low"] < truth < table.loc[term, "ci_high"], term
        assert table.loc[term, "p"] < 0.01
    md = (out / "index.md").read_text()
    assert "## Model: alliance and pain" in md
    assert "Contextual effect (between minus within)" in md
    assert "| alliance_within | -0.416 |" in md


def test_glmm_adherence_table_has_odds_ratios(demo):
    ctx = demo[0]
    fixed = pd.read_csv(ctx.out / "tables" / "glmm_adherence_fixed.csv").set_index("term")
    assert list(fixed.index) == ["(Intercept)", "session", "alliance_within", "alliance_between"]
    assert {"z", "odds_ratio", "or_ci_low", "or_ci_high"} <= set(fixed.columns)
    # odds ratios are exp(log-odds) with Wald limits transformed the same way (rounding only)
    np.testing.assert_allclose(fixed["odds_ratio"], np.exp(fixed["estimate"]), rtol=1e-12)
    np.testing.assert_allclose(fixed["or_ci_low"], np.exp(fixed["ci_low"]), rtol=1e-12)
    assert fixed.loc["alliance_within", "or_ci_low"] > 1  # alliance raises adherence
    fit = ctx.results["glmm_adherence"]
    assert fit.family == "binomial" and fit.ngroups == {"patient": 182}
    vc = pd.read_csv(ctx.out / "tables" / "glmm_adherence_varcorr.csv")
    assert list(vc["grp"]) == ["patient"]
    summary = (ctx.out / "tables" / "glmm_adherence_summary.txt").read_text()
    assert summary.startswith("Generalized linear mixed model fit by maximum likelihood (Laplace "
                              "Approximation)\n Family: binomial ( logit )")
    md = (ctx.out / "index.md").read_text()
    assert "odds ratio [95% CI]" in md


def test_meta_step_reproduces_molloy_2014(demo):
    ctx = demo[0]
    pooled = pd.read_csv(ctx.out / "tables" / "meta_molloy2014.csv").iloc[0]
    # metafor 3.8-1 values from DOMAIN.md, printed to 4 decimals (r, CI) or 2 (I², Q)
    assert pooled["k"] == 16
    assert pooled["r"] == pytest.approx(0.1488, abs=5e-5)
    assert pooled["ci_low_r"] == pytest.approx(0.0878, abs=5e-5)
    assert pooled["ci_high_r"] == pytest.approx(0.2087, abs=5e-5)
    assert pooled["pi_low_r"] == pytest.approx(-0.0371, abs=5e-5)
    assert pooled["pi_high_r"] == pytest.approx(0.3248, abs=1e-4)  # DOMAIN: .3248, metafor: .3247
    assert pooled["tau2"] == pytest.approx(0.0081, abs=5e-5)
    assert pooled["i2"] == pytest.approx(61.73, abs=5e-3)
    assert pooled["q"] == pytest.approx(38.16, abs=5e-3)
    md = (ctx.out / "index.md").read_text()
    assert "r = .15, 95% CI [.09, .21], k = 16" in md
    assert "Trim-and-fill imputes 2 studies on the left side" in md
    studies = pd.read_csv(ctx.out / "tables" / "meta_molloy2014_studies.csv")
    assert len(studies) == 16
    assert studies["weight_percent"].sum() == pytest.approx(100)  # percentages, rounding only
    np.testing.assert_allclose(studies["z"], np.arctanh(studies["r"]), rtol=1e-12)
    summary = (ctx.out / "tables" / "meta_molloy2014_summary.txt").read_text()
    assert "tau^2 estimator: REML" in summary and "r = .15" in summary


def test_pooled_correlation_comparison_table(demo):
    ctx = demo[0]
    table = pd.read_csv(ctx.out / "tables" / "pooled_correlations.csv")
    assert len(table) == 6
    assert table["r"].iloc[:5].tolist() == [0.26, 0.22, 0.275, 0.278, 0.15]
    ours = table.iloc[-1]
    assert ours["review"].startswith("alliancestats demo")
    # rounded to 4 decimals in the table
    assert (ours["r"], ours["ci_low"], ours["ci_high"]) == (0.1488, 0.0878, 0.2087)
    html = (ctx.out / "index.html").read_text()
    assert re.search(r"<td>Fluckiger, Del Re, Wampold &amp; Horvath</td>", html)


def test_a_model_step_runs_on_its_own(tmp_path):
    step = next(s for s in DEMO_STEPS if s.name == "alliance-outcome model: pain")
    ctx = run_demo(tmp_path, steps=[step], progress=False, stream=io.StringIO())
    assert (tmp_path / "tables" / "lmm_pain_fixed.csv").is_file()
    assert ctx.results["lmm_pain"].nobs == 1220  # complete cases of pain and alliance
