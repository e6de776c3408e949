"""Quantiles of the Irwin–Hall distribution (the sum of n independent uniform(0, 1) variables).

p-uniform's ``P`` estimator sets the sum of the conditional p values to its expectation and
takes its confidence bounds from the Irwin–Hall quantiles (van Aert, Wicherts & van Assen
2016). The distribution function is the alternating sum

``F(x) = (1/n!) Σ_{j=0}^{⌊x⌋} (−1)^j C(n, j) (x − j)^n``

(Irwin 1927; Hall 1927), which cancels catastrophically in floating point for more than a
few dozen terms; it is evaluated here in exact rational arithmetic (``fractions``), so the
quantile is exact to the root finder's tolerance for any n. The R package puniform tabulates
the 2.5% quantile for n ≤ 100 (computed in Mathematica) and uses a normal approximation above.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from math import comb, factorial, floor

from scipy import optimize

__all__ = ["irwin_hall_cdf", "irwin_hall_quantile"]


def irwin_hall_cdf(x: float, n: int) -> float:
    """P(U_1 + ... + U_n ≤ x) for independent uniform(0, 1) variables, exactly.

    Examples
    --------
    >>> irwin_hall_cdf(1.0, 2)
    0.5
    >>> round(irwin_hall_cdf(50.0, 100), 12)
    0.5
    """
    if x <= 0:
        return 0.0
    if x >= n:
        return 1.0
    xf = Fraction(x)
    total = Fraction(0)
    for j in range(floor(x) + 1):
        term = comb(n, j) * (xf - j) ** n
        total += -term if j % 2 else term
    return float(total / factorial(n))


@lru_cache(maxsize=256)
def irwin_hall_quantile(prob: float, n: int) -> float:
    """The ``prob`` quantile of the sum of ``n`` uniform(0, 1) variables.

    Examples
    --------
    >>> round(irwin_hall_quantile(0.025, 2), 7)
    0.2236068
    """
    if not 0 < prob < 1 or n < 1:
        raise ValueError("prob must lie in (0, 1) and n must be a positive integer.")
    if prob > 0.5:  # symmetric about n/2
        return n - irwin_hall_quantile(1 - prob, n)
    if n == 1:
        return prob
    return float(
        optimize.brentq(lambda x: irwin_hall_cdf(x, n) - prob, 0.0, n / 2, xtol=1e-13, rtol=1e-14)
    )
