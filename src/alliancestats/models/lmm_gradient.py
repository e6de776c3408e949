"""Compiled analytic gradient of the LMM's profiled criterion (one or two nested terms).

With ``M = [[Lambda'Z'Z Lambda + I, Lambda'Z'X], [X'Z Lambda, X'X]]``, ``b`` the matching
cross-products with ``y`` and ``(u, beta)`` the solution of ``M s = b``, the pieces of the
profiled criterion (Bates, Maechler, Bolker & Walker 2015, J Stat Softw 67(1)) are
``log|L|^2 (+ log|R_X|^2) = log det M_uu (log det M)`` and the penalised residual sum of
squares ``r^2``. Their derivatives in one element ``theta_k`` (an entry ``(r, c)`` of one
term's factor, repeated for every level ``l`` of that term) are

* ``d log det M = 2 sum_l Q_ll[c, r]`` with ``Q = M^{-1}_{u.} [Lambda'Z'Z; X'Z]``: only the
  blocks of ``M^{-1}`` where ``Z'Z`` is non-zero are needed (the *selected inverse*, here
  by the block Takahashi recursion: patient blocks, patient-therapist blocks, therapist
  blocks and the rows of ``beta``), each O(levels);
* ``d r^2 = -2 sum_l u_l[c] (Z'e)_l[r]`` with ``e = y - X beta - Z Lambda u`` (envelope
  theorem: ``r^2`` is a minimum over ``(u, beta)``), from the per-level sums;
* ``d (R_X'R_X)^{-1} = -(K + K')`` with ``K = sum_l [M^{-1}_{beta u} Lambda'Z'Z +
  M^{-1}_{beta beta} X'Z]_l E_rc (M^{-1})_{l beta}``: the Jacobian of ``Var(beta)`` that the
  Satterthwaite df need.

One call costs a few criterion evaluations whatever the number of θ elements, which lets a
gradient-based optimiser replace the derivative-free search and gives the Hessian for the
Satterthwaite df from differences of gradients. Verified against finite differences of the
criterion in the test suite. Without numba the module offers nothing (callers fall back to
derivative-free paths).
"""

from __future__ import annotations

from alliancestats.models.lmm_kernels import gradient_kernel

__all__ = ["nested_gradient"]


def nested_gradient():
    """The compiled gradient kernel, or None without numba.

    Arguments: ``theta`` and the arrays of ``LmmProblem``'s compiled criterion, then
    ``beta_in_logdet`` (REML) and ``want_cov``; returns ``(ok, log det, r^2, d log det,
    d r^2, (R_X'R_X)^{-1}, d (R_X'R_X)^{-1})``.

    Examples
    --------
    >>> k = nested_gradient()
    >>> k is None or callable(k)
    True
    """
    return gradient_kernel()
