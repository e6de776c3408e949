"""The steps every panel model shares after its specification is built.

:func:`fit_wide` compiles a :class:`~alliancestats.panel.ram.ModelSpec`, splits the wide data
of each group into missing-data patterns, fits the model by FIML and checks the solution for
improper estimates (negative variances, latent covariance matrices that are not positive
definite), warning with :class:`~alliancestats.errors.ImproperSolutionWarning` as lavaan does.
:func:`check_estimation_options` validates the arguments the public functions share.

Examples
--------
>>> from alliancestats.panel.fitting import check_estimation_options
>>> check_estimation_options("observed", "robust", 0.9)
('observed', 'robust', 0.9)
"""

from __future__ import annotations

import warnings

import numpy as np

from alliancestats._validation import check_choice, check_level
from alliancestats.errors import ImproperSolutionWarning
from alliancestats.panel.estimation import SEMFit, fit_sem
from alliancestats.panel.fiml import GroupData
from alliancestats.panel.ram import ModelSpec
from alliancestats.panel.waves import WidePanel

__all__ = ["check_estimation_options", "fit_wide", "improper_solution"]


def check_estimation_options(information: str, se: str, level: float) -> tuple[str, str, float]:
    """Validate ``information``, ``se`` and ``level``."""
    check_choice("information", information, ["observed", "expected"])
    check_choice("se", se, ["standard", "robust"])
    return information, se, check_level(level)


def improper_solution(fit: SEMFit) -> list[str]:
    """Messages for negative variance estimates and non-positive-definite latent covariances."""
    spec = fit.model.spec
    messages = []
    negative = []
    for row, k in zip(spec.rows, fit.model.row_param, strict=True):
        if k >= 0 and row.op == "~~" and row.lhs == row.rhs and fit.theta[k] < 0:
            negative.append(row.lhs if spec.n_groups == 1 else f"{row.lhs} (group {row.group + 1})")
    if negative:
        messages.append(
            f"negative variance estimate(s) for {', '.join(negative)}: an improper solution "
            "(often a variance that is truly near zero, or a misspecified model)"
        )
    latent = np.arange(len(spec.observed), len(spec.variables))
    if len(latent):
        for g in range(spec.n_groups):
            _, S, _ = fit.model.matrices(fit.theta, g)
            block = S[np.ix_(latent, latent)]
            if np.linalg.eigvalsh(block)[0] < -1e-10 * max(1.0, np.abs(block).max()):
                where = "" if spec.n_groups == 1 else f" in group {g + 1}"
                messages.append(
                    f"the covariance matrix of the latent variables{where} is not positive "
                    "definite (e.g. a correlation beyond +-1): an improper solution"
                )
    return messages


def fit_wide(
    spec: ModelSpec,
    panel: WidePanel,
    *,
    information: str,
    se: str,
) -> tuple[SEMFit, list[str]]:
    """Fit ``spec`` to the wide data (observed variables in ``spec.observed`` order).

    Returns the fit and the messages to show on the result (convergence, identification,
    improper solutions); improper solutions also warn.
    """
    model = spec.compile()
    data = [GroupData.from_array(values) for values in panel.arrays(spec.observed)]
    fit = fit_sem(model, data, information=information, se=se)
    improper = improper_solution(fit)
    for message in improper:
        warnings.warn(message, ImproperSolutionWarning, stacklevel=3)
    return fit, list(fit.messages) + improper
