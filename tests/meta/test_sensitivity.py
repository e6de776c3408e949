"""Leave-one-out, influence diagnostics, cumulative meta-analysis and Baujat coordinates.

Reference values: tests/reference/meta/bias.R -> bias.json (metafor 3.8-1, tight τ² threshold).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alliancestats.errors import MetaAnalysisError
from alliancestats.meta.rma import meta_analysis
from alliancestats.meta.sensitivity import baujat_values, cumulative, influence, leave_one_out

# Every quantity below involves a τ² re-estimated by REML Fisher scoring (iterative).
ITERATIVE = 1e-5
# Absolute floor for entries that are zero or nearly so (τ² = 0 at step 1, tiny DFBETAS).
ZERO_FLOOR = 1e-10

GRID = {
    ("molloy2014", "leave1out"),
    ("molloy2014", "influence"),
    ("molloy2014", "cumul_year"),
    ("molloy2014", "baujat"),
    ("bcg", "leave1out"),
    ("bcg", "influence"),
    ("bcg", "cumul_year"),
    ("bcg", "baujat"),
    ("bcg_ablat", "influence"),
    ("bcg_ablat", "baujat"),
    ("molloy2014_knha", "leave1out"),
    ("molloy2014_knha", "influence"),
    ("molloy2014_knha", "cumul_year"),
    ("molloy2014_fe", "leave1out"),
    ("molloy2014_fe", "influence"),
}
SENSITIVITY_KEYS = ("leave1out", "influence", "cumul_year", "baujat")
SUMMARY_COLUMNS = {
    "estimate": "estimate",
    "se": "se",
    "p": "p",
    "ci_lb": "ci_low",
    "ci_ub": "ci_high",
    "q": "q",
    "q_p": "q_p",
    "tau2": "tau2",
    "i2": "i2",
    "h2": "h2",
}


def close(ours, ref):
    np.testing.assert_allclose(
        np.asarray(ours, dtype=float), np.asarray(ref, dtype=float), rtol=ITERATIVE, atol=ZERO_FLOOR
    )


def test_reference_grid_is_complete(bias_cases):
    pinned = {(c, key) for c, v in bias_cases.items() for key in v if key in SENSITIVITY_KEYS}
    assert pinned == GRID


@pytest.mark.parametrize("case", sorted(c for c, k in GRID if k == "leave1out"))
def test_leave_one_out_matches_metafor(case, bias_cases, fit_case):
    ref = bias_cases[case]["leave1out"]
    res = fit_case(case)
    loo = leave_one_out(res)
    assert list(loo.index) == ref["label"]
    assert loo.index.name == "omitted"
    stat = "t" if case.endswith("knha") else "z"
    assert list(loo.columns) == [
        "estimate", "se", stat, "p", "ci_low", "ci_high", "q", "q_p", "tau2", "i2", "h2"
    ]  # fmt: skip
    close(loo[stat], ref["statistic"])
    for key, col in SUMMARY_COLUMNS.items():
        if key == "tau2" and ref[key] == []:  # metafor omits τ² for common-effect models
            assert (loo[col] == 0.0).all()
            continue
        close(loo[col], ref[key])


@pytest.mark.parametrize("case", sorted(c for c, k in GRID if k == "cumul_year"))
def test_cumulative_by_year_matches_metafor(case, bias_cases, fit_case):
    ref = bias_cases[case]["cumul_year"]
    cum = cumulative(fit_case(case), order="year")
    assert list(cum.index) == ref["label"]  # stable ordering: ties keep the data order
    stat = "t" if case.endswith("knha") else "z"
    close(cum[stat], ref["statistic"])
    for key, col in SUMMARY_COLUMNS.items():
        close(cum[col], ref[key])


def test_cumulative_last_row_is_the_full_model_and_order_accepts_arrays(bias_cases, fit_case):
    res = fit_case("bcg")
    years = np.asarray(bias_cases["bcg"]["data"]["year"])
    by_column = cumulative(res, order="year")
    by_array = cumulative(res, order=years)
    pd.testing.assert_frame_equal(by_column, by_array)
    assert by_column["estimate"].iloc[-1] == pytest.approx(res.estimate, rel=1e-12)  # same fit
    first = by_column.iloc[0]
    assert first["tau2"] == 0.0 and first["q"] == 0.0  # one study: no heterogeneity
    unordered = cumulative(res)
    assert list(unordered.index) == list(res.labels)
    descending = cumulative(res, order=-years)
    assert descending.index[0] == "TPT Madras 1980"


def test_cumulative_errors(fit_case):
    res = fit_case("bcg")
    with pytest.raises(MetaAnalysisError, match="not a column"):
        cumulative(res, order="decade")
    with pytest.raises(MetaAnalysisError, match="13 studies"):
        cumulative(res, order=[1, 2, 3])
    with pytest.raises(MetaAnalysisError, match="without moderators"):
        cumulative(fit_case("bcg_ablat"))
    with pytest.raises(MetaAnalysisError, match="without moderators"):
        leave_one_out(fit_case("bcg_ablat"))


@pytest.mark.parametrize("case", sorted(c for c, k in GRID if k == "influence"))
def test_influence_matches_metafor(case, bias_cases, fit_case):
    ref = bias_cases[case]["influence"]
    res = fit_case(case)
    infl = influence(res)
    assert list(infl.index) == ref["label"]
    mapping = {
        "rstudent": "rstudent",
        "dffits": "dffits",
        "cook.d": "cook_d",
        "cov.r": "cov_r",
        "tau2.del": "tau2_del",
        "QE.del": "qe_del",
        "hat": "hat",
        "weight": "weight",
    }
    for key, col in mapping.items():
        close(infl[col], ref[key])
    terms = list(ref["dfbs"])
    if len(terms) == 1:
        close(infl["dfbetas"], ref["dfbs"][terms[0]])
    else:
        for term, name in zip(terms, res.mod_names, strict=True):
            close(infl[f"dfbetas_{name}"], ref["dfbs"][term])
    np.testing.assert_array_equal(infl["inf"].to_numpy(), np.asarray(ref["inf"], dtype=bool))
    assert infl["hat"].sum() == pytest.approx(res.p, rel=1e-10)  # trace of the hat matrix


def test_influence_flags_a_planted_outlier():
    """An extreme, precise study must be flagged; the others not."""
    yi = np.array([0.20, 0.25, 0.15, 0.30, 0.22, 0.18, 0.27, 1.60])
    vi = np.array([0.010, 0.012, 0.015, 0.011, 0.013, 0.014, 0.012, 0.004])
    infl = influence(meta_analysis(yi=yi, vi=vi))
    assert infl["inf"].iloc[-1]
    assert not infl["inf"].iloc[:-1].any()
    assert infl["rstudent"].abs().idxmax() == "Study 8"


@pytest.mark.parametrize("case", sorted(c for c, k in GRID if k == "baujat"))
def test_baujat_values_match_metafor(case, bias_cases, fit_case):
    ref = bias_cases[case]["baujat"]
    bj = baujat_values(fit_case(case))
    assert list(bj.index) == ref["label"]
    close(bj["x"], ref["x"])
    close(bj["y"], ref["y"])


def test_sensitivity_rejects_three_level_models():
    data = pd.DataFrame(
        {
            "yi": [0.1, 0.2, 0.3, 0.15, 0.4, 0.35],
            "vi": [0.01, 0.02, 0.015, 0.01, 0.02, 0.03],
            "study": [1, 1, 2, 2, 3, 3],
            "es": [1, 2, 3, 4, 5, 6],
        }
    )
    res = meta_analysis(data, random=("study", "es"))
    for func in (leave_one_out, cumulative, baujat_values):
        with pytest.raises(MetaAnalysisError, match="univariate"):
            func(res)
    # influence() has multilevel diagnostics (tests/meta/test_multivariate.py)
    assert list(influence(res).columns) == ["rstudent", "cook_d", "hat", "dfbetas"]


def test_public_names_are_exported_from_meta():
    import alliancestats.meta as meta

    assert meta.leave_one_out is leave_one_out
    assert meta.influence is influence
    assert meta.cumulative is cumulative
