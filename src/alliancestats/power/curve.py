"""Simulated power over design sizes (simr's ``powerCurve``), aware of the nesting.

Examples
--------
>>> from alliancestats.power import power_curve, longitudinal_spec, cohens_d
>>> spec = longitudinal_spec(4, 6, icc_pre_subject=0.5, effect_size=cohens_d(1.0))
>>> curve = power_curve(spec, along="n_patients", values=[6, 10], nsim=3, seed=1, n_jobs=1)
>>> curve.table[["n_patients", "patients", "nsim"]].values.tolist()
[[6, 12, 3], [10, 20, 3]]
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from alliancestats._validation import check_choice, check_int, check_real
from alliancestats.errors import ConvergenceWarning, ParameterError
from alliancestats.power.backends import run_jobs
from alliancestats.power.engine import make_template
from alliancestats.power.resize import resize
from alliancestats.power.simulation import (
    SimulationResult,
    check_test,
    prepare_spec,
    replicate_seeds,
    summarise,
)
from alliancestats.power.spec import ALONG

__all__ = ["PowerCurve", "power_curve"]


@dataclass
class PowerCurve:
    """Result of :func:`power_curve`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per design point: the ``along`` value, ``therapists``, ``patients`` and
        ``rows`` of the simulated design, ``power, ci_low, ci_high``, ``power_clean,
        ci_low_clean, ci_high_clean``, ``nsim, n_failed, n_singular``.
    results : list of SimulationResult
        The full result (every replicate) of each design point.
    along : str
    """

    table: pd.DataFrame
    results: list[SimulationResult] = field(repr=False)
    along: str = "n_patients"

    def summary(self) -> str:
        """The table as text."""
        cols = [self.along, "patients", "power", "ci_low", "ci_high", "power_clean", "n_failed",
                "n_singular"]
        return (f"Simulated power curve along {self.along} "
                f"({self.results[0].term}, {self.results[0].test} test)\n"
                + self.table[cols].round(3).to_string(index=False))

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Draw the curve with :func:`~alliancestats.power.plot_power_curve`.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure otherwise.
        **kwargs
            Passed to :func:`~alliancestats.power.plot_power_curve` (``label=``, ``color=``).

        Returns
        -------
        matplotlib.axes.Axes
            The Axes drawn on.
        """
        from alliancestats.power.plot import plot_power_curve

        return plot_power_curve(self, ax=ax, **kwargs)


def power_curve(
    spec_or_fit: Any,
    *,
    along: str,
    values: Sequence[int],
    term: str | None = None,
    test: str = "satterthwaite",
    nsim: int = 1000,
    alpha: float = 0.05,
    level: float = 0.95,
    seed: int | np.random.SeedSequence | None = None,
    effect: Mapping[str, float] | None = None,
    n_jobs: int | None = None,
    backend: Any = "processes",
    progress: bool | None = None,
) -> PowerCurve:
    """Simulated power at several design sizes.

    Parameters
    ----------
    spec_or_fit : SimulationSpec or MixedResult
        As in :func:`~alliancestats.power.power_simulation`.
    along : {"n_patients", "n_therapists", "n_sessions"}
        What changes: patients per therapist (all patients without a therapist level),
        therapists, or sessions per patient. Designs from
        :func:`~alliancestats.power.longitudinal_spec` are rebuilt (therapists and patients
        per arm, as in :func:`~alliancestats.power.longitudinal_power`); data-based designs
        are resized through their nesting: an added therapist brings copies of an existing
        therapist's patients and sessions; sessions can only be cut.
    values : sequence of int
        The sizes, each at least 1.
    term, test, nsim, alpha, level, seed, effect, n_jobs, backend, progress
        As in :func:`~alliancestats.power.power_simulation`; ``nsim`` replicates per value.
        All design points' replicates are scheduled together (one Dask graph, one process
        pool). Point ``i`` uses the ``i``-th child of the root seed.

    Returns
    -------
    PowerCurve
        ``table`` (one row per value), ``results`` (a
        :class:`~alliancestats.power.SimulationResult` per value), ``plot(ax=None)``.

    Raises
    ------
    ParameterError
        An unknown ``along``, empty or invalid ``values``, a design that cannot be resized
        that way (no therapist level, sessions beyond the data).

    Warns
    -----
    ConvergenceWarning
        More than 10% of the fits of a design point failed or were singular.

    Notes
    -----
    simr's ``powerCurve`` (Green & MacLeod 2016, Methods Ecol Evol 7(4)) with the nesting of
    the design respected and every replicate recorded.

    Examples
    --------
    >>> from alliancestats.power import longitudinal_spec, cohens_d
    >>> spec = longitudinal_spec(4, 3, 2, icc_pre_subject=0.5, icc_slope=0.05, var_ratio=0.05,
    ...                          effect_size=cohens_d(1.0))
    >>> import warnings
    >>> with warnings.catch_warnings():  # few therapists: singular fits are expected
    ...     warnings.simplefilter("ignore")
    ...     c = power_curve(spec, along="n_therapists", values=[2, 3], nsim=2, seed=3, n_jobs=1)
    >>> c.table["therapists"].tolist()
    [4, 6]
    """
    t0 = time.perf_counter()
    base = prepare_spec(spec_or_fit, term, effect)
    axis = check_choice("along", along, ALONG)
    if isinstance(values, str) or not isinstance(values, Sequence | np.ndarray) or not len(values):
        raise ParameterError("values must be a non-empty list of sizes")
    sizes = [check_int(f"values[{i}]", v, 1) for i, v in enumerate(values)]
    test_name = check_test(test)
    n = check_int("nsim", nsim, 1)
    a = check_real("alpha", alpha, low=0, high=1, low_open=True, high_open=True)
    lev = check_real("level", level, low=0, high=1, low_open=True, high_open=True)
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    specs = []
    for v in sizes:
        s = resize(base, axis, v)
        if effect is not None:
            s = s.with_effect(effect)
        specs.append(s)
    jobs = [(make_template(s, base.term, test_name), replicate_seeds(child, n))
            for s, child in zip(specs, root.spawn(len(sizes)), strict=True)]
    records = run_jobs(jobs, backend=backend, n_jobs=n_jobs, progress=progress)
    elapsed = time.perf_counter() - t0
    results = [summarise(r, base.term, test_name, a, lev, int(root.entropy), elapsed, warn=False)
               for r in records]
    rows = []
    for v, s, res in zip(sizes, specs, results, strict=True):
        counts = s.sizes()
        rows.append({
            axis: v,
            "therapists": counts["therapists"],
            "patients": counts["patients"],
            "rows": len(s.data),
            "power": res.power, "ci_low": res.ci_low, "ci_high": res.ci_high,
            "power_clean": res.power_clean, "ci_low_clean": res.ci_low_clean,
            "ci_high_clean": res.ci_high_clean,
            "nsim": res.nsim, "n_failed": res.n_failed, "n_singular": res.n_singular,
        })
    table = pd.DataFrame(rows)
    troubled = table[(table["n_failed"] + table["n_singular"]) > 0.1 * n]
    if len(troubled):
        warnings.warn(
            f"more than 10% of the fits failed or were singular at {axis} = "
            f"{troubled[axis].tolist()}; compare power with power_clean in the table",
            ConvergenceWarning, stacklevel=2)
    return PowerCurve(table, results, axis)
