"""The demo report (``alliancestats demo``): files, links, contents and the model numbers."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

from alliancestats import read_sample
from alliancestats.errors import AllianceStatsWarning
from alliancestats.report.sections import SECTIONS

SECTION_TITLES = [s.title for s in SECTIONS]


def test_demo_exits_zero_and_every_section_runs(demo):
    out, status, stdout, _ = demo
    assert status == 0
    md = (out / "index.md").read_text()
    contents = md.split("## Contents", 1)[1].split("\n## ", 1)[0]
    assert [line[2:] for line in contents.splitlines() if line.startswith("- ")] == [
        s.title for s in SECTIONS
    ]  # every section is configured and none was skipped or failed
    assert "not run" not in stdout and "FAILED" not in stdout
    assert not (out / "report_errors.txt").exists()


def test_stdout_says_where_everything_went_and_progress_goes_to_stderr(demo):
    out, _, stdout, stderr = demo
    n_files = sum(1 for p in out.rglob("*") if p.is_file())
    assert f"Report written to {out} ({n_files} files" in stdout
    assert str(out / "index.html") in stdout
    assert "alliancestats report" in stderr  # the tqdm bar, on standard error only


def test_every_link_exists_and_every_file_is_linked(demo):
    out = demo[0]
    md = (out / "index.md").read_text()
    links = set(re.findall(r"\]\(([^)]+)\)", md))
    written = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert written - {"index.md", "index.html"} == links
    html = (out / "index.html").read_text()
    for link in links:
        assert f'href="{link}"' in html, link


def test_html_is_self_contained(demo):
    html = (demo[0] / "index.html").read_text()
    images = re.findall(r'<img src="([^"]+)"', html)
    assert len(images) == len(list((demo[0] / "figures").glob("*.png"))) > 10
    assert all(src.startswith("data:image/png;base64,") for src in images)
    assert "<script" not in html


def test_figures_are_png_and_svg_with_editable_text(demo):
    figures = demo[0] / "figures"
    for png in figures.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        svg = png.with_suffix(".svg").read_text()
        assert "</svg>" in svg
        assert "<text" in svg, png.name  # svg.fonttype = "none": labels stay text
    traj = (figures / "trajectories_pain.svg").read_text()
    assert "n falls from" in traj and "25 of 91 patients" in traj


def test_scored_sessions_match_the_sample_items(demo):
    sessions = pd.read_csv(demo[0] / "tables" / "sessions.csv")
    raw = read_sample("physio_cohort")
    merged = sessions.merge(raw, on=["patient", "session"], suffixes=("", "_raw"))
    assert len(merged) == len(raw) == 1413
    wai = merged[[f"wai_{k}" for k in range(1, 13)]]
    expected = wai.mean(axis=1).where(wai.notna().all(axis=1))
    # atol: floating-point summation order only
    pd.testing.assert_series_equal(merged["alliance"], expected, check_names=False, atol=1e-9)
    # ODI percentage: sum / (5 x sections answered) x 100 (Fairbank & Pynsent 2000)
    odi = merged[[f"odi_{k}" for k in range(1, 11)]]
    odi_expected = odi.sum(axis=1, min_count=1) / (5 * odi.notna().sum(axis=1)) * 100
    # atol: floating-point summation order only
    pd.testing.assert_series_equal(merged["odi"], odi_expected, check_names=False, atol=1e-9)


def test_descriptive_and_attrition_tables(demo):
    out = demo[0]
    overview = pd.read_csv(out / "tables" / "overview.csv").set_index("quantity")["value"]
    assert overview["patients"] == "182" and overview["therapists"] == "24"
    assert overview["session records"] == "1413"
    raw = read_sample("physio_cohort")
    by_session = pd.read_csv(out / "tables" / "by_session.csv")
    pain1 = by_session.query("measure == 'pain' and session == 1 and arm == 'control'").iloc[0]
    control = raw[(raw["session"] == 1) & (raw["arm"] == "control")]["pain"]
    assert pain1["n"] == control.notna().sum()
    # rel 1e-12: the same mean, computed by pandas in both places
    assert pain1["mean"] == pytest.approx(control.mean(), rel=1e-12)
    retention = pd.read_csv(out / "tables" / "retention.csv")
    last = raw.groupby("patient")["session"].max()
    arm = raw.groupby("patient")["arm"].first()
    for (a, s), n in retention.set_index(["arm", "session"])["patients_retained"].items():
        assert n == int(((last >= s) & (arm == a)).sum())
    md = (out / "index.md").read_text()
    ended = int((last < 12).sum())
    assert f"{ended} of 182 patients" in md


def _own_decomposition(loaded: pd.DataFrame) -> pd.DataFrame:
    """The loaded data with alliance split by plain pandas (independent of alliancestats)."""
    d = loaded.copy()
    observed = d["alliance"].notna()
    means = d.groupby("patient")["alliance"].transform("mean")
    d["alliance_between"] = (means - d.loc[observed, "alliance"].mean()).where(observed)
    d["alliance_within"] = (d["alliance"] - means).where(observed)
    return d


@pytest.mark.parametrize("response", ["pain", "odi"])
def test_lmm_tables_match_a_direct_fit(demo, response):
    from alliancestats.models import lmm

    out = demo[0]
    fixed = pd.read_csv(out / "tables" / f"model_{response}_fixed.csv").set_index("term")
    assert list(fixed.index) == ["(Intercept)", "session", "alliance_within", "alliance_between"]
    assert list(fixed.columns) == ["estimate", "se", "df", "t", "p", "ci_low", "ci_high"]
    formula = (f"{response} ~ session + alliance_within + alliance_between"
               " + (1 + session | patient) + (1 | therapist)")
    data = _own_decomposition(pd.read_csv(out / "tables" / "sessions.csv"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllianceStatsWarning)
        direct = lmm(formula, data, reml=True)
    # CSV round trip keeps 17 significant digits; same data and optimiser -> same numbers
    np.testing.assert_allclose(fixed.to_numpy(), direct.fixed.to_numpy(), rtol=1e-9)
    vc = pd.read_csv(out / "tables" / f"model_{response}_varcorr.csv")
    assert list(vc["grp"]) == ["patient", "patient", "patient", "therapist", "Residual"]
    summary = (out / "tables" / f"model_{response}_summary.txt").read_text()
    assert summary.startswith("Linear mixed model fit by REML")
    assert f"Formula: {formula}" in summary


def test_lmm_estimates_cover_the_simulation_truth(demo):
    """data/sample/README.md: pain within -0.4, between -1.0; ODI tracks 100 - function
    (function within 2.0, between 6.0), so ODI effects are about -2 and -6."""
    out = demo[0]
    pain = pd.read_csv(out / "tables" / "model_pain_fixed.csv").set_index("term")
    odi = pd.read_csv(out / "tables" / "model_odi_fixed.csv").set_index("term")
    for table, term, truth in [(pain, "alliance_within", -0.4), (pain, "alliance_between", -1.0),
                               (odi, "alliance_within", -2.0), (odi, "alliance_between", -6.0)]:
        assert table.loc[term, "ci_low"] < truth < table.loc[term, "ci_high"], term
        assert table.loc[term, "p"] < 0.01
    md = (out / "index.md").read_text()
    assert "### Model pain: Pain (NRS 0-10)" in md
    assert "Contextual effect (between minus within)" in md
    assert "| alliance_within | -0.4156 |" in md


def test_glmm_adherence_table_has_odds_ratios(demo):
    out = demo[0]
    fixed = pd.read_csv(out / "tables" / "model_adherence_fixed.csv").set_index("term")
    assert {"z", "exp_odds_ratio", "exp_ci_low", "exp_ci_high"} <= set(fixed.columns)
    # odds ratios are exp(log-odds) with Wald limits transformed the same way (rounding only)
    np.testing.assert_allclose(fixed["exp_odds_ratio"], np.exp(fixed["estimate"]), rtol=1e-12)
    np.testing.assert_allclose(fixed["exp_ci_low"], np.exp(fixed["ci_low"]), rtol=1e-12)
    assert fixed.loc["alliance_within", "exp_ci_low"] > 1  # alliance raises adherence
    vc = pd.read_csv(out / "tables" / "model_adherence_varcorr.csv")
    assert list(vc["grp"]) == ["patient"]
    summary = (out / "tables" / "model_adherence_summary.txt").read_text()
    assert summary.startswith("Generalized linear mixed model fit by maximum likelihood (Laplace "
                              "Approximation)\n Family: binomial ( logit )")
    assert "the log odds of home-exercise adherence" in (out / "index.md").read_text()


def test_effect_size_tables(demo):
    out = demo[0]
    icc = pd.read_csv(out / "tables" / "icc.csv")
    assert set(icc["model"]) == {"pain", "odi", "adherence"}
    assert icc["icc"].between(0, 1).all()
    r2 = pd.read_csv(out / "tables" / "r2.csv").set_index(["model", "r2"])["estimate"]
    for model in ("pain", "odi", "adherence"):
        assert 0 < r2[(model, "marginal")] < r2[(model, "conditional")] < 1
    compared = pd.read_csv(out / "tables" / "models_compared.csv")
    assert list(compared.columns[-3:]) == ["pain", "odi", "adherence"]
    figures = {p.stem for p in (out / "figures").glob("*.png")}
    assert {"caterpillar_pain_therapist", "effects_pain_alliance"} <= figures
    assert "caterpillar_pain_patient" not in figures  # 182 levels: above the limit


def test_meta_section_reproduces_molloy_2014(demo):
    out = demo[0]
    pooled = pd.read_csv(out / "tables" / "meta_pooled.csv").iloc[0]
    # metafor 3.8-1 values (data/sample/README.md), printed to 4 decimals (r, CI) or 2 (I², Q)
    assert pooled["k"] == 16
    assert pooled["estimate_r"] == pytest.approx(0.1488, abs=5e-5)
    assert pooled["ci_low_r"] == pytest.approx(0.0878, abs=5e-5)
    assert pooled["ci_high_r"] == pytest.approx(0.2087, abs=5e-5)
    assert pooled["tau2"] == pytest.approx(0.0081, abs=5e-5)
    assert pooled["i2"] == pytest.approx(61.73, abs=5e-3)
    assert pooled["q"] == pytest.approx(38.16, abs=5e-3)
    md = (out / "index.md").read_text()
    assert "r = .15, 95% CI [.09, .21], k = 16" in md
    assert "Trim-and-fill imputes 2 studies on the left side" in md
    studies = pd.read_csv(out / "tables" / "meta_studies.csv")
    assert studies["weight_percent"].sum() == pytest.approx(100)  # percentages, rounding only


def test_dynamics_sections(demo):
    out = demo[0]
    gains = pd.read_csv(out / "tables" / "sudden_gains.csv")
    assert len(gains) > 0 and (gains["magnitude"] >= 2).all()  # criterion 1, cut-off 2
    rules = pd.read_csv(out / "tables" / "ruptures_by_rule.csv")
    assert {"stiles2004", "strauss2006", "gumz2012", "rci"} <= set(rules["method"])
    lagged = pd.read_csv(out / "tables" / "lagged_comparison.csv")
    assert lagged["model"].tolist() == ["lagged mixed model", "RI-CLPM",
                                        "dynamic panel (ML-SEM)"]
