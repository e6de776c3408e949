"""Fitting controls for ``lmm`` and ``glmm``, mirroring lme4's ``lmerControl`` / ``glmerControl``.

Users reach for these when a fit warns: another optimiser, tighter tolerances, a stricter or
quieter convergence check. :class:`Control` holds every option with lme4's defaults; the
engines read it, and :func:`all_fit` (lme4's ``allFit``) refits a model once per optimiser.

Names follow lme4 with Python spelling (``check.conv.grad`` → ``check_conv_grad``).

Examples
--------
>>> from alliancestats.models.control import Control
>>> Control().optimizer
'bobyqa'
>>> Control(optimizer="nelder_mead", check_conv_grad="ignore").check_conv_grad
'ignore'
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, fields, replace
from typing import Any

from alliancestats._validation import check_choice, check_int, check_positive
from alliancestats.errors import EstimationError, ParameterError

__all__ = ["CHECK_LEVELS", "OPTIMIZERS", "R_OPTIMIZER_NAMES", "Control", "as_control",
           "report_check"]

#: Optimisers for the covariance parameters: NLopt's compiled BOBYQA (lme4's default for
#: ``lmer`` and the second ``glmer`` stage), scipy's COBYQA, Nelder–Mead (lme4's
#: ``"Nelder_Mead"``) and L-BFGS-B with finite-difference gradients.
OPTIMIZERS: tuple[str, ...] = ("bobyqa", "cobyqa", "nelder_mead", "lbfgsb")

#: What a failed check does: ``"ignore"``, ``"message"`` (recorded on the result and printed in
#: its summary), ``"warning"`` (an :class:`~alliancestats.AllianceStatsWarning` subclass) or
#: ``"stop"`` (an :class:`~alliancestats.errors.EstimationError`).
CHECK_LEVELS: tuple[str, ...] = ("ignore", "message", "warning", "stop")

#: lme4's spellings of the optimisers, accepted as synonyms (``"nloptwrap"`` is lme4's
#: default for ``lmer``: NLopt's BOBYQA, as ``"bobyqa"`` here).
R_OPTIMIZER_NAMES: dict[str, str] = {"nloptwrap": "bobyqa", "Nelder_Mead": "nelder_mead"}


class DefaultOptimizer(str):
    """The default optimiser name, ``"bobyqa"``, told apart from the same name given
    explicitly: an engine with an exact gradient of its criterion (the LMM on nested
    designs) may use a gradient-based optimiser unless BOBYQA is asked for.

    Examples
    --------
    >>> is_default_optimizer(Control()), is_default_optimizer(Control(optimizer="bobyqa"))
    (True, False)
    """


DEFAULT_OPTIMIZER = DefaultOptimizer("bobyqa")


def is_default_optimizer(control: Control) -> bool:
    """Whether ``control.optimizer`` was left at its default (see :class:`DefaultOptimizer`)."""
    return isinstance(control.optimizer, DefaultOptimizer)


@dataclass(frozen=True)
class Control:
    """Options of one mixed-model fit (lme4's ``lmerControl`` / ``glmerControl``).

    Parameters
    ----------
    optimizer : str or (str, str)
        One of :data:`OPTIMIZERS`; a pair gives the optimisers of a GLMM's two stages
        (``nAGQ = 0`` start, then the Laplace/AGQ fit), as ``glmerControl(optimizer=c(.,.))``.
    maxfun : int
        Most criterion evaluations per optimisation (lme4: ``optCtrl = list(maxfun=)``).
    xtol_abs, ftol_abs, ftol_rel : float
        Stopping tolerances on θ and on the criterion (NLopt's names; lme4's BOBYQA defaults
        ``xtol_abs = 1e-8``, ``ftol_abs = 1e-8`` for ``lmer``).
    check_conv_grad : str
        Level of the scaled-gradient check (``check.conv.grad``; default ``"warning"``).
    check_conv_grad_tol : float
        Its tolerance (lme4: 2e-3).
    check_conv_singular : str
        Level of the singular-fit check (``check.conv.singular``; default ``"message"``).
    check_conv_singular_tol : float
        Boundary tolerance of the singularity test (lme4: 1e-4).
    check_conv_hess : str
        Level of the Hessian check (``check.conv.hess``; default ``"warning"``).
    check_conv_hess_tol : float
        Its tolerance on the smallest eigenvalue (lme4: 1e-6).
    calc_derivs : bool
        Compute the finite-difference gradient and Hessian at the optimum (``calc.derivs``);
        ``False`` skips the gradient and Hessian checks (faster, as in lme4).
    restart_edge : bool
        Restart a fit that ends on the boundary from an interior point before calling it
        singular (lme4's ``restart_edge``).
    check_nobs_vs_nlev : str
        Level of the check that every grouping factor has fewer levels than observations
        (``check.nobs.vs.nlev``; default ``"stop"``).
    check_nobs_vs_nRE : str
        Level of the check that there are more observations than random effects
        (``check.nobs.vs.nRE``; default ``"stop"``).
    tol_pwrss : float
        Convergence tolerance of the penalised iteratively reweighted least squares of a GLMM
        (``glmerControl(tolPwrss = 1e-7)``).
    options : dict
        Extra optimiser-specific options passed through unchanged.
    """

    optimizer: str | tuple[str, str] = DEFAULT_OPTIMIZER
    maxfun: int = 10_000
    xtol_abs: float = 1e-8
    ftol_abs: float = 1e-8
    ftol_rel: float = 1e-12
    check_conv_grad: str = "warning"
    check_conv_grad_tol: float = 2e-3
    check_conv_singular: str = "message"
    check_conv_singular_tol: float = 1e-4
    check_conv_hess: str = "warning"
    check_conv_hess_tol: float = 1e-6
    calc_derivs: bool = True
    restart_edge: bool = True
    check_nobs_vs_nlev: str = "stop"
    check_nobs_vs_nRE: str = "stop"
    tol_pwrss: float = 1e-7
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        opt = self.optimizer
        if isinstance(opt, str):
            opt = R_OPTIMIZER_NAMES.get(opt, opt)
        elif isinstance(opt, (tuple, list)):
            opt = tuple(R_OPTIMIZER_NAMES.get(o, o) for o in opt)
        object.__setattr__(self, "optimizer", opt)
        stages = (opt,) if isinstance(opt, str) else tuple(opt)
        if not 1 <= len(stages) <= 2:
            raise ParameterError(f"optimizer must be a name or a pair of names, got {opt!r}")
        for name in stages:
            check_choice("optimizer", name, OPTIMIZERS)
        check_int("maxfun", self.maxfun, minimum=1)
        for name in ("xtol_abs", "ftol_abs", "check_conv_grad_tol", "check_conv_singular_tol",
                     "check_conv_hess_tol", "tol_pwrss"):
            check_positive(name, getattr(self, name))
        if self.ftol_rel < 0:
            raise ParameterError(f"ftol_rel must be >= 0, got {self.ftol_rel}")
        for name in ("check_conv_grad", "check_conv_singular", "check_conv_hess",
                     "check_nobs_vs_nlev", "check_nobs_vs_nRE"):
            check_choice(name, getattr(self, name), CHECK_LEVELS)
        for name in ("calc_derivs", "restart_edge"):
            if not isinstance(getattr(self, name), bool):
                raise ParameterError(f"{name} must be True or False")
        if not isinstance(self.options, dict):
            raise ParameterError("options must be a dict of optimiser-specific settings")

    def stage_optimizers(self) -> tuple[str, str]:
        """The optimisers of the two GLMM stages (the same name twice for a single name).

        Examples
        --------
        >>> Control(optimizer=("bobyqa", "nelder_mead")).stage_optimizers()
        ('bobyqa', 'nelder_mead')
        """
        opt = self.optimizer
        return (opt, opt) if isinstance(opt, str) else (opt[0], opt[1])

    def with_(self, **changes: Any) -> Control:
        """A copy with some options changed.

        Parameters
        ----------
        **changes
            Option names of :class:`Control` and their new values.

        Returns
        -------
        Control
            A new options object; this one is left unchanged.

        Examples
        --------
        >>> Control().with_(optimizer="cobyqa").optimizer
        'cobyqa'
        """
        return replace(self, **changes)


def as_control(control: Control | dict[str, Any] | None) -> Control:
    """A :class:`Control` from ``None`` (defaults), a ``Control``, or a dict of its options.

    Examples
    --------
    >>> as_control({"optimizer": "nelder_mead"}).optimizer
    'nelder_mead'
    """
    if control is None:
        return Control()
    if isinstance(control, Control):
        return control
    if isinstance(control, dict):
        known = {f.name for f in fields(Control)}
        unknown = sorted(set(control) - known)
        if unknown:
            raise ParameterError(
                f"unknown control option(s) {unknown}; available: {sorted(known)}"
            )
        return Control(**control)
    raise ParameterError(
        f"control must be a Control, a dict of options or None, got {type(control).__name__}"
    )


def report_check(
    level: str,
    text: str,
    category: type[Warning],
    messages: list[str] | None = None,
    *,
    stacklevel: int = 2,
) -> None:
    """Act on a failed check at ``level``, as lme4's ``checkConv`` does.

    ``"ignore"`` does nothing; ``"message"`` and ``"warning"`` add ``text`` to ``messages``
    (when given; ``summary()`` prints them) and issue it as a ``category`` warning (Python
    has no separate channel for R's messages, so both are warnings of the check's own
    :class:`~alliancestats.AllianceStatsWarning` subclass, which users can filter);
    ``"stop"`` raises :class:`~alliancestats.errors.EstimationError`.

    Examples
    --------
    >>> import warnings
    >>> from alliancestats.errors import ConvergenceWarning
    >>> notes = []
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     report_check("warning", "Model failed to converge", ConvergenceWarning, notes)
    >>> notes, caught[0].category.__name__
    (['Model failed to converge'], 'ConvergenceWarning')
    """
    if level == "ignore":
        return
    if level == "stop":
        raise EstimationError(text)
    if messages is not None:
        messages.append(text)
    warnings.warn(text, category, stacklevel=stacklevel + 1)
