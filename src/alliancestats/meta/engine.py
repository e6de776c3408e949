"""Fit a :class:`~alliancestats.meta.spec.ModelSpec`: choose the estimator, add robust inference.

Univariate models (diagonal sampling variances, no ``random=``) go to
:mod:`alliancestats.meta.univariate`; models with random-effects structures or a full
sampling covariance matrix to :mod:`alliancestats.meta.multilevel`; ``robust=`` then replaces
the model-based covariance by a cluster-robust one (:mod:`alliancestats.meta.robust`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from alliancestats.errors import MetaAnalysisError
from alliancestats.meta.multilevel import fit_multilevel
from alliancestats.meta.result import MetaResult
from alliancestats.meta.robust import apply_robust
from alliancestats.meta.univariate import fit_univariate
from alliancestats.models.convergence import single_threaded_blas

__all__ = ["check_design", "fit_spec"]

# The small dense blocks of meta-analytic models run far faster with one BLAS thread than
# with threads competing for the cores (measured: a 70 x 70 solve takes 0.2 ms single-
# threaded and 40 ms with two OpenBLAS threads on a busy 2-core machine), so every fit runs
# under the library's one BLAS thread limiter, ``single_threaded_blas``.


def check_design(X: np.ndarray, names: list[str] | tuple[str, ...]) -> None:
    """Refuse an empty or rank-deficient fixed-effects design with a message naming the columns.

    Examples
    --------
    >>> import numpy as np
    >>> check_design(np.ones((3, 1)), ["(Intercept)"])
    """
    k, p = X.shape
    if k == 0:
        raise MetaAnalysisError("No studies left to analyse.")
    if p == 0:
        raise MetaAnalysisError("The model has no fixed effects (mods removed the intercept).")
    if np.linalg.matrix_rank(X) < p:
        raise MetaAnalysisError(
            "The moderator design is not of full rank (collinear moderators or a category "
            f"without studies); columns: {', '.join(names)}."
        )


def fit_spec(spec: Any) -> MetaResult:
    """Fit the model described by ``spec`` and return its :class:`MetaResult`.

    Examples
    --------
    >>> from alliancestats.meta import meta_analysis
    >>> res = meta_analysis(yi=[0.1, 0.3, 0.2], vi=[0.01, 0.02, 0.01])
    >>> fit_spec(res.spec).estimate == res.estimate
    True
    """
    check_design(spec.X, spec.mod_names)
    with single_threaded_blas():
        result = fit_multilevel(spec) if spec.multilevel else fit_univariate(spec)
    if spec.robust is not None:
        if spec.weights is not None:
            raise MetaAnalysisError(
                "robust= with user weights is not supported; drop weights= or robust=."
            )
        cluster = pd.factorize(pd.Series(spec.cluster))[0]
        result = apply_robust(result, cluster, spec.robust, spec.robust_type)
    return result
