"""Model matrices (alliancestats.models.design)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alliancestats.errors import (
    DroppedRowsWarning,
    FormulaError,
    ModelSpecificationError,
    ParameterError,
    RankDeficiencyWarning,
)
from alliancestats.models.design import build_design, r_style_name, variables_in


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    n = 40
    return pd.DataFrame(
        {
            "y": rng.normal(size=n),
            "x": rng.normal(size=n),
            "arm": rng.choice(["control", "telehealth", "usual"], size=n),
            "g": np.repeat([f"g{i}" for i in range(8)], 5),
            "h": np.tile(["a", "b"], 20),
            "t": rng.uniform(1, 3, size=n),
        }
    )


def test_r_style_names(frame):
    d = build_design("y ~ x * arm + (1 | g)", frame)
    assert d.fixed_names == [
        "(Intercept)",
        "x",
        "armtelehealth",
        "armusual",
        "x:armtelehealth",
        "x:armusual",
    ]
    no_int = build_design("y ~ 0 + arm + (1 | g)", frame)
    assert no_int.fixed_names == ["armcontrol", "armtelehealth", "armusual"]
    assert r_style_name("np.log(x)") == "np.log(x)"


def test_random_blocks_and_codes(frame):
    d = build_design("y ~ x + (1 + x | g) + (1 | h)", frame)
    assert [b.group for b in d.random] == ["g", "h"]  # more levels first, as lme4
    g = d.random[0]
    assert g.colnames == ["(Intercept)", "x"]
    assert g.q == 2 and g.nlevels == 8
    np.testing.assert_array_equal(g.Z[:, 1], frame["x"].to_numpy())
    assert list(g.levels[g.codes[:6]]) == list(frame["g"][:6])


def test_lme4_term_order_and_duplicate_names(frame):
    d = build_design("y ~ x + (1 | h) + (1 | g)", frame)
    assert [b.group for b in d.random] == ["g", "h"]
    d2 = build_design("y ~ x + (1 + x || g)", frame)
    assert [b.group for b in d2.random] == ["g", "g.1"]


def test_interaction_grouping_labels(frame):
    d = build_design("y ~ 1 + (1 | g/h)", frame)
    assert [b.group for b in d.random] == ["h:g", "g"]
    assert d.random[0].nlevels == 16
    assert d.random[0].levels[0] == "a:g0"


def test_missing_rows_dropped_and_counted(frame):
    frame.loc[[0, 3], "x"] = np.nan
    frame.loc[5, "g"] = None
    frame.loc[7, "t"] = np.nan  # unused column: row kept
    with pytest.warns(DroppedRowsWarning, match="3 of 40 rows"):
        d = build_design("y ~ x + (1 | g)", frame)
    assert d.nobs == 37 and d.n_dropped == 3
    assert 0 not in d.rows and 7 in d.rows


def test_unknown_column_suggests_close_names(frame):
    with pytest.raises(FormulaError, match="'xx'.*did you mean 'x'"):
        build_design("y ~ xx + (1 | g)", frame)
    with pytest.raises(FormulaError, match="grouping factor"):
        build_design("y ~ x + (1 | patient)", frame)


def test_transforms_and_offset(frame):
    d = build_design("y ~ np.log(t) + I(x ** 2) + offset(np.log(t)) + (1 | g)", frame)
    assert d.fixed_names == ["(Intercept)", "np.log(t)", "I(x^2)"]  # named as R prints it
    np.testing.assert_allclose(d.offset, np.log(frame["t"]))


def test_rank_deficiency_drops_aliased_columns(frame):
    frame["x2"] = 2 * frame["x"]
    with pytest.warns(RankDeficiencyWarning, match="x2"):
        d = build_design("y ~ x + x2 + (1 | g)", frame)
    assert d.fixed_names == ["(Intercept)", "x"]
    assert d.aliased == ["x2"]


def test_bad_inputs(frame):
    with pytest.raises(FormulaError, match="numeric"):
        build_design("arm ~ x + (1 | g)", frame)
    one = frame.assign(g="only")
    with pytest.raises(ModelSpecificationError, match="only 1 level"):
        build_design("y ~ x + (1 | g)", one)
    empty = frame.assign(y=np.nan)
    with pytest.warns(DroppedRowsWarning, match="missing values"):
        with pytest.raises(ModelSpecificationError, match="no rows left"):
            build_design("y ~ x + (1 | g)", empty)
    with pytest.raises(ModelSpecificationError, match="non-finite"):
        build_design("y ~ np.log(x) + (1 | g)", frame)
    with pytest.raises(ParameterError, match="DataFrame"):
        build_design("y ~ x + (1 | g)", frame.to_dict())  # type: ignore[arg-type]


def test_cbind_response_for_binomial_models(frame):
    frame["k"] = 3
    frame["n"] = 5
    d = build_design("cbind(k, n - k) ~ x + (1 | g)", frame)
    assert d.y.shape == (40, 2)
    np.testing.assert_array_equal(d.y, np.tile([3.0, 2.0], (40, 1)))  # n - k, not formula algebra
    d2 = build_design("np.log(t) ~ x + (1 | g)", frame)
    np.testing.assert_allclose(d2.y, np.log(frame["t"]))


def test_new_data_matrices(frame):
    d = build_design("y ~ x + arm + (1 + x | g)", frame)
    new = pd.DataFrame({"x": [0.5, 1.0], "arm": ["usual", "control"], "g": ["g3", "unseen"]})
    X = d.fixed_matrix(new)
    np.testing.assert_allclose(X, [[1, 0.5, 0, 1], [1, 1.0, 0, 0]])
    Z, codes = d.random_matrix(0, new)
    assert codes.tolist() == [3, -1]
    np.testing.assert_allclose(Z, [[1, 0.5], [1, 1.0]])


def test_variables_in_skips_functions_and_strings():
    assert variables_in("C(arm, contr.treatment('b')) + np.log(x + 1)") == ["arm", "x"]
    assert variables_in("`my col` + z") == ["my col", "z"]


def test_new_data_errors_are_formula_errors(frame):
    d = build_design("y ~ x + arm + (1 + x | g)", frame)
    with pytest.raises(FormulaError, match="new data"):
        d.fixed_matrix(pd.DataFrame({"arm": ["usual"]}))
    with pytest.raises(FormulaError, match="new data"):
        d.random_matrix(0, pd.DataFrame({"g": ["g1"]}))


def test_session_data_objects_are_accepted(frame):
    from alliancestats.io import load_sessions

    sd = load_sessions(frame.assign(s=range(len(frame))), patient="g", session="s",
                       outcomes=["y"], covariates=["x"])
    d = build_design("y ~ x + (1 | patient)", sd)
    assert d.nobs == len(frame)


def test_r_power_syntax_inside_I_is_a_power(frame):
    for spelling in ("I(x^2)", "I(x ** 2)"):
        d = build_design(f"y ~ x + {spelling} + (1 | g)", frame)
        np.testing.assert_allclose(d.X[:, 2], frame["x"] ** 2)
