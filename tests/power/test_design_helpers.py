"""Design effect, variance partition, implied correlations and SDs (powerlmm 0.4.0 cases)."""

from __future__ import annotations

import numpy as np
import pytest

from alliancestats.power import (
    cohens_d,
    design_effect,
    implied_correlation,
    longitudinal_power,
    variance_partition,
)

# powerlmm tests.helpers.R designs: patient intercept SD 1, residual SD 1
BASE = dict(icc_pre_subject=0.5, icc_pre_cluster=0, icc_slope=0, var_ratio=0, sigma_error=1)


def test_variance_partition_without_slopes():
    vp = variance_partition(11, t_end=10, **BASE)
    assert len(vp) == 11
    assert np.allclose(vp["therapists"], 0, atol=1e-12)  # exact zeros up to rounding
    assert np.allclose(vp["patients"], 50, rtol=1e-12)
    assert np.allclose(vp["within"], 50, rtol=1e-12)
    assert np.allclose(vp["total_change"], 0, atol=1e-12)
    assert np.allclose(vp["sd"], np.sqrt(2), rtol=1e-12)  # get_sds: sqrt(1^2 + 1^2)


def test_variance_partition_without_therapist_level_is_the_same():
    a = variance_partition(11, t_end=10, **dict(BASE, icc_pre_cluster=None))
    b = variance_partition(11, t_end=10, **BASE)
    assert np.allclose(a.to_numpy(), b.to_numpy(), rtol=1e-12, atol=1e-12)  # same model


def test_variance_partition_with_slopes_changes_every_session():
    vp = variance_partition(11, t_end=10, **dict(BASE, var_ratio=0.05, icc_slope=0.1))
    assert vp["therapists"].round(12).nunique() == 11
    total = vp[["therapists", "patients", "within"]].sum(axis=1)
    assert np.allclose(total, 100, rtol=1e-12)  # shares add up


def test_implied_correlation_without_slopes_is_the_icc():
    r = implied_correlation(11, t_end=10, **BASE)
    lower = r.to_numpy()[np.tril_indices(11, -1)]
    assert np.allclose(lower, 0.5, rtol=1e-12)  # dplyr::near in powerlmm
    assert np.all(np.diag(r.to_numpy()) == 1)
    r2 = implied_correlation(11, t_end=10, **dict(BASE, var_ratio=0.05, icc_slope=0.1))
    assert r2.shape == (11, 11) and not r2.isna().any().any()
    assert list(r2.columns) == [float(t) for t in range(11)]


def test_design_effect_is_ratio_of_standard_errors():
    # powerlmm tests.get_DEFT.r: DEFT = se(design) / se(design with icc_slope = 0)
    kw = dict(icc_pre_subject=0.5, icc_pre_cluster=0, var_ratio=0.05, sigma_error=1)
    de = design_effect(11, 10, 3, t_end=10, icc_slope=0.1, **kw)
    se1 = longitudinal_power(11, 10, 3, icc_slope=0.1, effect_size=1.0, **kw).se
    se2 = longitudinal_power(11, 10, 3, icc_slope=0.0, effect_size=1.0, **kw).se
    assert de["deft"] == pytest.approx(se1 / se2, rel=1e-12)  # same algebra both ways
    assert de["approx_type1"] > 0.05
    assert de["icc_slope"] == 0.1 and de["var_ratio"] == 0.05


def test_design_effect_closed_form():
    # powerlmm get_rel_bias.paras: se ratio from the balanced closed form
    n1, n2, n3 = 11, 30, 3
    sx = np.var(np.arange(11))
    u1, v1, s2 = 1.9, 0.1, 100.0
    se1 = np.sqrt(2 * (s2 + n1 * u1 * sx + n1 * n2 * v1 * sx) / (n1 * n2 * n3 * sx))
    se2 = np.sqrt(2 * (s2 + n1 * (u1 + v1) * sx) / (n1 * n2 * n3 * sx))
    de = design_effect(n1, n2, n3, icc_pre_subject=0.5, icc_pre_cluster=0, icc_slope=0.05,
                       var_ratio=0.02)
    assert de["deft"] == pytest.approx(se1 / se2, rel=1e-10)  # closed form vs GLS algebra
    assert de["se_correct"] == pytest.approx(se1, rel=1e-10)


def test_effect_size_standardiser_is_the_implied_pretest_sd():
    vp = variance_partition(11, icc_pre_subject=0.5, var_ratio=0.02)
    res = longitudinal_power(11, 20, icc_pre_subject=0.5, var_ratio=0.02,
                             effect_size=cohens_d(0.4))
    assert res.effect == pytest.approx(0.4 * vp["sd"].iloc[0], rel=1e-12)
