"""Expected information of the time x treatment effect and its Satterthwaite df (numerical kernel).

For the model of :mod:`alliancestats.power.design` the GLS covariance of the fixed effects
``(Intercept), time, treatment, time:treatment`` is ``(sum_k X_k' V_k^-1 X_k)^-1`` over
therapists ``k`` (and over the unclustered patients of two-level designs or of the control
arm of a partially nested design). Within an arm every patient's fixed-effects rows are
their random-effects rows times a 2 x 4 matrix ``A``, so everything reduces to 2 x 2
per-patient statistics of the patient's dropout pattern (``M = Z'V^-1 Z`` and relatives)
summed over a therapist's caseload, and a therapist's information is
``S - S C S`` with ``S = sum M`` and ``C = G_v (I + S G_v)^-1`` (Woodbury; works when
``G_v`` is singular). A caseload is described by how many of its patients follow each
dropout pattern; these weights may be fractional ("expected dropout": every therapist's
caseload carries the arm's average pattern mix).

The Satterthwaite df follow powerlmm 0.4.0 / pbkrtest: ``df = 2 Var(b)^2 / (g' W g)``
with ``g`` the gradient of ``Var(b)`` in the variance-covariance parameters and ``W`` twice
the inverse of the expected REML information ``tr(P G_i P G_j)`` (Kenward & Roger 1997,
Biometrics 53(3); Satterthwaite 1946, Biometrics Bull 2(6)). Both are evaluated in closed
form from per-pattern moments (``Z'V^-1 Z``, ``Z'V^-2 Z``, ``Z'V^-3 Z``, ``tr V^-2``) instead
of the dense n x n matrices powerlmm builds, so the cost does not grow with the number of
patients. As in powerlmm, whose numerical gradient takes ``|variance|`` and is therefore
flat at zero, a variance component whose true value is zero gets a zero gradient.

Examples
--------
>>> from alliancestats.power.design import resolve_design, cohens_d
>>> from alliancestats.power.information import build_groups, effect_information
>>> d = resolve_design(11, 10, 4, icc_pre_subject=0.5, icc_pre_cluster=0, icc_slope=0.05,
...                    var_ratio=0.02, effect_size=cohens_d(-0.8))
>>> info = effect_information(d, build_groups(d))
>>> round(info.se, 6)
0.436411
>>> round(info.satterthwaite_df(), 6)
6.0
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alliancestats.power.design import ARMS, LongitudinalDesign
from alliancestats.power.dropout import dropout_counts

__all__ = ["EffectInformation", "Group", "build_groups", "effect_information"]

# fixed effects (Intercept), time, treatment, time:treatment in terms of [intercept, slope]
_A = {
    "control": np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]]),
    "treatment": np.array([[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 1.0]]),
}
_E = {
    "intercept": np.array([[1.0, 0.0], [0.0, 0.0]]),
    "covariance": np.array([[0.0, 1.0], [1.0, 0.0]]),
    "slope": np.array([[0.0, 0.0], [0.0, 1.0]]),
}
EFFECT = 3  # index of time:treatment


@dataclass(frozen=True)
class Group:
    """A therapist's caseload, or the unclustered patients of an arm.

    ``weights[k - 1]`` is the number of patients observed at exactly ``k`` sessions.
    """

    arm: str
    weights: np.ndarray
    clustered: bool


@dataclass(frozen=True)
class _Param:
    name: str
    level: str  # "subject", "cluster" or "residual"
    E: np.ndarray
    value: float
    is_variance: bool


def build_groups(design: LongitudinalDesign, allocation: str = "expected",
                 rng: np.random.Generator | None = None) -> list[Group]:
    """Caseloads with their dropout-pattern weights (caseloads must be fixed).

    ``allocation="expected"`` spreads each arm's dropout patterns evenly over its therapists;
    ``"random"`` assigns them to patients at random with ``rng`` (powerlmm's behaviour).
    """
    groups = []
    n1 = design.n_sessions
    for arm in ARMS:
        caseloads = design.caseloads[arm]
        n = int(sum(caseloads))
        counts = dropout_counts(design.dropout[arm], design.time, n).astype(float)
        clustered = design.three_level and not (design.partially_nested and arm == "control")
        if not clustered:
            groups.append(Group(arm, counts, False))
            continue
        if allocation == "random" and design.dropout[arm] is not None:
            assert rng is not None
            patterns = rng.permutation(np.repeat(np.arange(n1), counts.astype(int)))
            edges = np.cumsum([0, *caseloads])
            for lo, hi in zip(edges[:-1], edges[1:], strict=True):
                w = np.bincount(patterns[lo:hi], minlength=n1).astype(float)
                groups.append(Group(arm, w, True))
        else:
            for size in caseloads:
                groups.append(Group(arm, counts * (size / n), True))
    return groups


def _parameters(design: LongitudinalDesign) -> list[_Param]:
    sd, cor = design.sd, design.cor
    out = []
    for level, (i_key, s_key, c_key) in {
        "subject": ("subject_intercept", "subject_slope", "subject"),
        "cluster": ("cluster_intercept", "cluster_slope", "cluster"),
    }.items():
        if level == "cluster" and not design.three_level:
            continue
        i_sd, s_sd, c = sd[i_key], sd[s_key], cor[c_key]
        if i_sd is not None:
            out.append(_Param(f"{level}_intercept", level, _E["intercept"], i_sd**2, True))
        if i_sd is not None and s_sd is not None and c is not None:
            out.append(_Param(f"{level}_covariance", level, _E["covariance"], i_sd * s_sd * c,
                              False))
        if s_sd is not None:
            out.append(_Param(f"{level}_slope", level, _E["slope"], s_sd**2, True))
    out.append(_Param("error", "residual", np.eye(2), float(sd["error"]) ** 2, True))
    return out


def _pattern_moments(time: np.ndarray, Gu: np.ndarray, s2: float,
                     used: np.ndarray) -> dict[str, np.ndarray]:
    """Z'W Z, Z'W²Z, Z'W³Z and tr(W²) for k = 1..n observed sessions (W = V^-1)."""
    n = len(time)
    M = np.zeros((n, 2, 2))
    N = np.zeros((n, 2, 2))
    K = np.zeros((n, 2, 2))
    tw2 = np.zeros(n)
    for k in np.flatnonzero(used):
        Z = np.column_stack([np.ones(k + 1), time[: k + 1]])
        W = np.linalg.inv(Z @ Gu @ Z.T + s2 * np.eye(k + 1))
        WZ = W @ Z
        M[k] = Z.T @ WZ
        N[k] = WZ.T @ WZ
        K[k] = WZ.T @ W @ WZ
        tw2[k] = np.sum(W * W)
    return {"M": M, "N": N, "K": K, "tw2": tw2}


@dataclass
class EffectInformation:
    """Covariance of the fixed effects and the pieces of its Satterthwaite df."""

    phi: np.ndarray
    params: list[_Param]
    P: list[np.ndarray]
    Q: list[list[np.ndarray]]
    Ktrace: np.ndarray

    @property
    def variance(self) -> float:
        """Variance of the time x treatment estimate."""
        return float(self.phi[EFFECT, EFFECT])

    @property
    def se(self) -> float:
        """Standard error of the time x treatment estimate."""
        return float(np.sqrt(self.variance))

    def satterthwaite_df(self) -> float:
        """Satterthwaite df of the time x treatment test (pbkrtest's expected information)."""
        phi = self.phi
        m = len(self.params)
        info = np.empty((m, m))
        for a in range(m):
            pa = phi @ self.P[a]
            for b in range(a, m):
                val = (self.Ktrace[a, b] - 2.0 * np.sum(phi * self.Q[a][b])
                       + np.sum(pa * (phi @ self.P[b]).T))
                info[a, b] = info[b, a] = val
        eig = np.abs(np.linalg.eigvalsh(info))
        W = 2.0 * (np.linalg.inv(info) if eig.min() > 1e-10 else np.linalg.pinv(info))
        g = np.array([
            0.0 if (p.is_variance and p.value == 0.0)
            else -(phi @ self.P[a] @ phi)[EFFECT, EFFECT]
            for a, p in enumerate(self.params)
        ])
        return float(2.0 * self.variance**2 / (g @ W @ g))


def _sandwiches(p: _Param, mom: dict, w: np.ndarray, S: np.ndarray, clustered: bool) -> np.ndarray:
    """U = Z'D^-1 B D^-1 Z summed over a group (D: block-diagonal patient covariances)."""
    if p.level == "subject":
        return np.einsum("k,kij,jl,klm->im", w, mom["M"], p.E, mom["M"])
    if p.level == "residual":
        return np.einsum("k,kij->ij", w, mom["N"])
    return S @ p.E @ S if clustered else np.zeros((2, 2))


def _triple(pa: _Param, pb: _Param, mom: dict, w: np.ndarray, S: np.ndarray, U: list,
            a: int, b: int, clustered: bool) -> tuple[np.ndarray, float]:
    """T = Z'D^-1 B_a D^-1 B_b D^-1 Z and tau = tr(D^-1 B_a D^-1 B_b) for one group."""
    M, N = mom["M"], mom["N"]
    if "cluster" in (pa.level, pb.level):
        if not clustered:
            return np.zeros((2, 2)), 0.0
        if pa.level == "cluster":
            return S @ pa.E @ U[b], float(np.trace(pa.E @ U[b]))
        return U[a] @ pb.E @ S, float(np.trace(U[a] @ pb.E))
    if pa.level == "subject" and pb.level == "subject":
        T = np.einsum("k,kij,jl,klm,mn,kno->io", w, M, pa.E, M, pb.E, M)
        tau = np.einsum("k,ij,kjl,lm,kmi->", w, pa.E, M, pb.E, M)
        return T, float(tau)
    if pa.level == "subject":
        return (np.einsum("k,kij,jl,klm->im", w, M, pa.E, N),
                float(np.einsum("k,ij,kji->", w, pa.E, N)))
    if pb.level == "subject":
        return (np.einsum("k,kij,jl,klm->im", w, N, pb.E, M),
                float(np.einsum("k,ij,kji->", w, pb.E, N)))
    return np.einsum("k,kij->ij", w, mom["K"]), float(w @ mom["tw2"])


def effect_information(design: LongitudinalDesign, groups: list[Group],
                       satterthwaite: bool = True) -> EffectInformation:
    """Covariance of the fixed effects (and, optionally, the df pieces) for ``groups``."""
    params = _parameters(design)
    m = len(params)
    used = np.sum([g.weights for g in groups], axis=0) > 0
    moments = {arm: _pattern_moments(design.time, *_patient_cov(design, arm), used)
               for arm in ARMS}
    info = np.zeros((4, 4))
    P = [np.zeros((4, 4)) for _ in range(m)]
    Q = [[np.zeros((4, 4)) for _ in range(m)] for _ in range(m)]
    Kt = np.zeros((m, m))
    for g in groups:
        mom, A, w = moments[g.arm], _A[g.arm], g.weights
        S = np.einsum("k,kij->ij", w, mom["M"])
        Gv = design.covariances(g.arm)[1]
        C = Gv @ np.linalg.inv(np.eye(2) + S @ Gv) if g.clustered else np.zeros((2, 2))
        R = np.eye(2) - C @ S
        info += A.T @ (S - S @ C @ S) @ A
        if not satterthwaite:
            continue
        U = [_sandwiches(p, mom, w, S, g.clustered) for p in params]
        for a in range(m):
            P[a] -= A.T @ R.T @ U[a] @ R @ A
        for a in range(m):
            for b in range(a, m):
                Tab, tau = _triple(params[a], params[b], mom, w, S, U, a, b, g.clustered)
                Tba = Tab.T  # B_a, B_b symmetric, so T_ba = T_ab'
                Q[a][b] += A.T @ R.T @ (Tab - U[a] @ C @ U[b]) @ R @ A
                Kt[a, b] += (tau - np.trace(C @ Tab) - np.trace(C @ Tba)
                             + np.trace(C @ U[a] @ C @ U[b]))
    Kt = np.triu(Kt) + np.triu(Kt, 1).T
    return EffectInformation(np.linalg.inv(info), params, P, Q, Kt)


def _patient_cov(design: LongitudinalDesign, arm: str) -> tuple[np.ndarray, float]:
    Gu, _, s2 = design.covariances(arm)
    return Gu, s2
