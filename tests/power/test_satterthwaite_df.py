"""Satterthwaite df of the time x treatment test (powerlmm 0.4.0 / pbkrtest rule).

The closed-form computation from per-pattern moments is checked against a dense
brute-force evaluation of the same formula (explicit V, P = V^-1 - V^-1 X Phi X' V^-1,
tr(P G_i P G_j)), and against powerlmm's own test cases: in balanced complete designs the
df equal the between-therapist (or between-patient) df exactly.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import block_diag

from alliancestats.power import cohens_d, longitudinal_power, per_arm, weibull_dropout
from alliancestats.power.design import resolve_design
from alliancestats.power.information import build_groups, effect_information

A = {"control": np.array([[1.0, 0, 0, 0], [0, 1, 0, 0]]),
     "treatment": np.array([[1.0, 0, 1, 0], [0, 1, 0, 1]])}
E = {"intercept": np.array([[1.0, 0], [0, 0]]), "covariance": np.array([[0.0, 1], [1, 0]]),
     "slope": np.array([[0.0, 0], [0, 1]])}


def _param_list(d):
    """(level, E, value, is_variance) for every parameter in the model, in kernel order."""
    out = []
    for level, ik, sk, ck in (("subject", "subject_intercept", "subject_slope", "subject"),
                              ("cluster", "cluster_intercept", "cluster_slope", "cluster")):
        if level == "cluster" and not d.three_level:
            continue
        i_sd, s_sd, c = d.sd[ik], d.sd[sk], d.cor[ck]
        if i_sd is not None:
            out.append((level, E["intercept"], i_sd**2, True))
        if i_sd is not None and s_sd is not None and c is not None:
            out.append((level, E["covariance"], i_sd * s_sd * c, False))
        if s_sd is not None:
            out.append((level, E["slope"], s_sd**2, True))
    out.append(("residual", None, d.sd["error"] ** 2, True))
    return out


def dense_se_df(design, groups):
    """Brute force: every patient and session explicit (groups need whole-number weights)."""
    t = design.time
    params = _param_list(design)
    Xs, Gs = [], [[] for _ in params]
    for g in groups:
        pats = np.repeat(np.arange(len(t)), g.weights.astype(int))
        Zs = [np.column_stack([np.ones(k + 1), t[: k + 1]]) for k in pats]
        Zc = np.vstack(Zs)
        Zb = block_diag(*Zs)
        Xs.append(Zc @ A[g.arm])
        for i, (level, Em, _, _) in enumerate(params):
            if level == "subject":
                Gs[i].append(Zb @ np.kron(np.eye(len(Zs)), Em) @ Zb.T)
            elif level == "residual":
                Gs[i].append(np.eye(len(Zc)))
            else:
                Gs[i].append(Zc @ Em @ Zc.T if g.clustered else np.zeros((len(Zc),) * 2))
    X = np.vstack(Xs)
    G = [block_diag(*gs) for gs in Gs]
    V = sum(p[2] * Gi for p, Gi in zip(params, G, strict=True))
    Vi = np.linalg.inv(V)
    phi = np.linalg.inv(X.T @ Vi @ X)
    P = Vi - Vi @ X @ phi @ X.T @ Vi
    m = len(params)
    info = np.array([[np.trace(P @ G[a] @ P @ G[b]) for b in range(m)] for a in range(m)])
    grad = np.array([(phi @ X.T @ Vi @ G[a] @ Vi @ X @ phi)[3, 3] for a in range(m)])
    grad[[p[3] and p[2] == 0 for p in params]] = 0.0
    return np.sqrt(phi[3, 3]), 2 * phi[3, 3] ** 2 / (grad @ (2 * np.linalg.inv(info)) @ grad)


DESIGNS = {
    "three_level_correlated": dict(n_sessions=4, n_patients=5, n_therapists=4,
                                   icc_pre_subject=0.5, icc_pre_cluster=0.1, cor_subject=-0.5,
                                   cor_cluster=-0.4, var_ratio=0.02, icc_slope=0.05),
    "three_level_dropout": dict(n_sessions=5, n_patients=[2, 3, 6], icc_pre_subject=0.5,
                                icc_pre_cluster=0, var_ratio=0.03, icc_slope=0.1,
                                dropout=weibull_dropout(0.4, 0.8)),
    "partially_nested_dropout": dict(n_sessions=4, n_patients=[2, 5, 3], icc_pre_subject=0.5,
                                     icc_pre_cluster=0.1, cor_cluster=0.3, var_ratio=0.03,
                                     icc_slope=0.1, partially_nested=True,
                                     dropout=per_arm(weibull_dropout(0.4, 1),
                                                     weibull_dropout(0.2, 2))),
    "two_level_dropout": dict(n_sessions=6, n_patients=12, icc_pre_subject=0.4,
                              cor_subject=0.2, var_ratio=0.05,
                              dropout=weibull_dropout(0.3, 0.5)),
    "intercept_only_cluster": dict(n_sessions=4, n_patients=3, n_therapists=3,
                                   icc_pre_subject=0.5, icc_pre_cluster=0.1, var_ratio=0.02),
}


def test_design_grid_is_complete():
    assert len(DESIGNS) == 5


@pytest.mark.parametrize("name", sorted(DESIGNS))
def test_closed_form_matches_dense_computation(name):
    d = resolve_design(effect_size=cohens_d(0.8), **DESIGNS[name])
    groups = build_groups(d, "random", np.random.default_rng(7))
    info = effect_information(d, groups)
    se, df = dense_se_df(d, groups)
    # same formula evaluated two ways; only floating-point rounding differs
    assert info.se == pytest.approx(se, rel=1e-10)
    assert info.satterthwaite_df() == pytest.approx(df, rel=1e-8)


@pytest.mark.parametrize("icc_pre_cluster", [0.1, 0.0])
def test_balanced_three_level_df_equal_therapists_minus_two(icc_pre_cluster):
    # powerlmm tests.power_satterth_df.R "satterth df 3lvl" and "... ZERO"
    res = longitudinal_power(4, 5, 4, icc_pre_subject=0.5, icc_pre_cluster=icc_pre_cluster,
                             cor_subject=-0.5, cor_cluster=-0.4, var_ratio=0.02,
                             icc_slope=0.05, effect_size=cohens_d(0.8), df="satterthwaite")
    assert res.df == pytest.approx(8 - 2, rel=1e-9)  # exact in theory; rounding only


def test_balanced_two_level_df_equal_patients_minus_two():
    # powerlmm "satterth df 2lvl": n2 = 5, n3 = 4 per arm, no therapist level -> 40 - 2
    res = longitudinal_power(4, 5, 4, icc_pre_subject=0.5, cor_subject=-0.5, var_ratio=0.02,
                             effect_size=cohens_d(0.8), df="satterthwaite")
    assert res.df == pytest.approx(38, rel=1e-9)  # exact in theory; rounding only


def test_uncorrelated_therapist_intercept_df_exceed_between():
    # powerlmm "satterth df 3lvl" with cor_cluster = NA: df > n3 total - 2
    res = longitudinal_power(4, 5, 4, icc_pre_subject=0.5, icc_pre_cluster=0.1,
                             cor_subject=-0.5, cor_cluster=None, var_ratio=0.02,
                             icc_slope=0.05, effect_size=cohens_d(0.8), df="satterthwaite")
    assert res.df > 6
