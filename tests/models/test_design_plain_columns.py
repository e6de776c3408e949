"""Model matrices of plain numeric columns are assembled directly; they must equal the
formula-evaluated ones (values, names) and keep a working spec for new data and anova."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alliancestats.models.design import build_design
from alliancestats.models.formula_eval import safe_model_matrix


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    n = 60
    return pd.DataFrame({
        "y": rng.normal(size=n), "a": rng.normal(size=n), "b_2": rng.integers(0, 5, n),
        "c": rng.normal(size=n).astype(np.float32), "g": np.repeat(list("ABCDEF"), 10),
        "flag": rng.random(n) < 0.5,
    })


@pytest.mark.parametrize("rhs", ["a", "1 + a + b_2", "b_2 + a", "a + c"])
def test_plain_columns_equal_the_formula_matrix(data, rhs):
    d = build_design(f"y ~ {rhs} + (1 + a | g)", data)
    ref = safe_model_matrix(rhs, d.data, where="test")
    assert d.fixed_names == list(ref.names)
    np.testing.assert_array_equal(d.X, np.asarray(ref.frame, dtype=float))
    zref = safe_model_matrix("1 + a", d.data, where="test")
    np.testing.assert_array_equal(d.random[0].Z, np.asarray(zref.frame, dtype=float))
    new = data.iloc[:7]
    np.testing.assert_allclose(d.fixed_matrix(new), np.asarray(
        safe_model_matrix(rhs, new, where="test").frame, dtype=float))
    assert d.fixed_spec.encoder_state is not None  # the spec is built on demand


@pytest.mark.parametrize("rhs", ["flag", "a + a:b_2", "a - 1", "0 + a", "np.log(b_2 + 1)"])
def test_other_terms_use_the_formula(data, rhs):
    d = build_design(f"y ~ {rhs} + (1 | g)", data)
    ref = safe_model_matrix(rhs, d.data, where="test")
    assert d.fixed_names[: len(ref.names)] == list(ref.names)[: len(d.fixed_names)]
