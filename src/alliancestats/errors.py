"""Exception and warning classes used across alliancestats.

Every error a researcher can trigger with bad input is one of the classes below, so that
notebooks can catch precisely what they expect, and every warning derives from
:class:`AllianceStatsWarning` so it can be filtered with one line::

    import warnings
    from alliancestats.errors import AllianceStatsWarning
    warnings.simplefilter("ignore", AllianceStatsWarning)

Examples
--------
>>> from alliancestats.errors import SingularFitWarning, AllianceStatsWarning
>>> issubclass(SingularFitWarning, AllianceStatsWarning)
True
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AllianceStatsError",
    "DataValidationError",
    "FileFormatError",
    "InstrumentError",
    "FormulaError",
    "ModelSpecificationError",
    "EstimationError",
    "MetaAnalysisError",
    "SampleNotFoundError",
    "ParameterError",
    "OutOfCoreError",
    "ConfigError",
    "AllianceStatsWarning",
    "ConvergenceWarning",
    "SingularFitWarning",
    "SeparationWarning",
    "DroppedRowsWarning",
    "RankDeficiencyWarning",
    "ApproximationWarning",
    "DataQualityWarning",
    "ImproperSolutionWarning",
    "ObservedPowerWarning",
]


class AllianceStatsError(Exception):
    """Base class of every error raised deliberately by alliancestats."""


class DataValidationError(AllianceStatsError, ValueError):
    """Input data failed validation.

    Parameters
    ----------
    message : str
        Human-readable summary (first problems and total count).
    problems : pandas.DataFrame, optional
        One line per problem with columns ``row, column, value, reason`` (and ``file`` when
        the data came from a file).
    """

    def __init__(self, message: str, problems: Any = None) -> None:
        super().__init__(message)
        self.problems = problems


class FileFormatError(DataValidationError):
    """A file cannot be read as the format it claims to be (corrupt, wrongly encoded, truncated).

    A :class:`DataValidationError`, so code catching that keeps working; the message names where
    in the file reading stopped (line and byte for text files) and what to pass instead (for
    example ``encoding=``).

    Parameters
    ----------
    message : str
        Where reading stopped and what to do about it.
    problems : pandas.DataFrame, optional
        One line per problem, as for :class:`DataValidationError`.
    """


class InstrumentError(AllianceStatsError, ValueError):
    """An instrument is unknown, mis-specified, or its items do not fit its definition."""


class FormulaError(AllianceStatsError, ValueError):
    """A model formula cannot be parsed or refers to something that does not exist."""


class ModelSpecificationError(AllianceStatsError, ValueError):
    """The model cannot be estimated from these data as specified (e.g. too few groups)."""


class OutOfCoreError(AllianceStatsError, NotImplementedError):
    """What a fit to a Dask DataFrame (out of core) cannot do: a formula feature that needs
    the whole column in one place, or a quantity that needs the individual rows in memory."""


class EstimationError(AllianceStatsError, RuntimeError):
    """Numerical estimation failed in a way that leaves no usable result."""


class MetaAnalysisError(AllianceStatsError, ValueError):
    """Meta-analytic input is invalid (e.g. non-positive sampling variances)."""


class SampleNotFoundError(AllianceStatsError, KeyError):
    """The requested bundled sample data set does not exist."""

    def __str__(self) -> str:  # KeyError would otherwise print the repr of the message
        return str(self.args[0]) if self.args else ""


class AllianceStatsWarning(UserWarning):
    """Base class of every warning issued by alliancestats."""


class ConvergenceWarning(AllianceStatsWarning):
    """The optimiser did not reach a verified optimum."""


class SingularFitWarning(AllianceStatsWarning):
    """The fit lies on the boundary of the parameter space (lme4's ``isSingular``)."""


class SeparationWarning(AllianceStatsWarning):
    """Complete or quasi-complete separation in a binomial model."""


class DroppedRowsWarning(AllianceStatsWarning):
    """Rows were dropped (missing values or failed validation); counts are on the result."""


class RankDeficiencyWarning(AllianceStatsWarning):
    """The fixed-effects design is rank deficient; aliased columns were dropped."""


class ApproximationWarning(AllianceStatsWarning):
    """A result relies on an approximation the user should know about."""


class DataQualityWarning(AllianceStatsWarning):
    """Data are usable but have a property worth reporting (gaps, dropout, ceiling effects)."""


class ParameterError(AllianceStatsError, ValueError, TypeError):
    """A function argument has an invalid type or value (e.g. a negative standard deviation).

    It is also a ``ValueError`` and a ``TypeError``, so code written against the built-in
    exceptions keeps working.
    """


class ConfigError(AllianceStatsError, ValueError):
    """A study configuration (TOML) is invalid: unknown table or key, wrong type, missing value.

    The message names the file, the table and the key, and lists what is allowed.
    """


class ImproperSolutionWarning(AllianceStatsWarning):
    """A structural equation model's estimate is improper: a negative variance or a latent
    covariance matrix that is not positive definite (a Heywood case)."""


class ObservedPowerWarning(AllianceStatsWarning):
    """Power computed from the effect estimated in the same data ("observed power")."""
