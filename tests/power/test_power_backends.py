"""Backends: forked and joblib processes and a Dask LocalCluster give exactly the serial results."""

from __future__ import annotations

import pickle

import distributed  # the 'test' extra installs dask[distributed]
import pandas as pd
import pytest

from alliancestats.errors import ParameterError
from alliancestats.power import backends, power_curve, power_simulation
from alliancestats.power.backends import chunk_seeds, run_jobs
from alliancestats.power.engine import Template, make_template

# few therapists make some fits singular; these tests compare backends, not fits
pytestmark = pytest.mark.filterwarnings("ignore::alliancestats.errors.ConvergenceWarning")


def test_forked_processes_match_serial(trial_spec):
    serial = power_simulation(trial_spec, nsim=7, seed=21, backend="serial")
    forked = power_simulation(trial_spec, nsim=7, seed=21, backend="processes", n_jobs=2)
    pd.testing.assert_frame_equal(serial.replicates, forked.replicates)
    assert not backends.FORKED_TASKS  # the workers' view of the tasks is released


@pytest.mark.skipif(not backends.fork_available(), reason="processes are forked on Linux only")
def test_forked_workers_run_on_the_parents_template(trial_spec, monkeypatch):
    # a forked worker must not rebuild or unpickle the template: refuse pickling it
    seeds = [11, 12, 13, 14, 15]
    template = make_template(trial_spec, trial_spec.term, "satterthwaite")
    serial = run_jobs([(template, seeds)], backend="serial")
    monkeypatch.setattr(Template, "__reduce__", _refuse_pickling, raising=False)
    with pytest.raises(TypeError, match="was pickled"):
        pickle.dumps(template)
    forked = run_jobs([(template, seeds)], backend="processes", n_jobs=2)
    pd.testing.assert_frame_equal(pd.DataFrame(forked[0]), pd.DataFrame(serial[0]))


def _refuse_pickling(self):
    raise TypeError("the template was pickled")


def test_joblib_processes_match_serial(trial_spec):
    serial = power_simulation(trial_spec, nsim=6, seed=21, backend="serial")
    procs = power_simulation(trial_spec, nsim=6, seed=21, backend="loky", n_jobs=2)
    pd.testing.assert_frame_equal(serial.replicates, procs.replicates)


@pytest.mark.slow
def test_dask_local_cluster_matches_serial(trial_spec):
    serial = power_curve(trial_spec, along="n_therapists", values=[2, 3], nsim=4, seed=8,
                         backend="serial")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        on_dask = power_curve(trial_spec, along="n_therapists", values=[2, 3], nsim=4, seed=8,
                              backend=client)
        single = power_simulation(trial_spec, nsim=5, seed=3, backend=client)
    for a, b in zip(serial.results, on_dask.results, strict=True):
        pd.testing.assert_frame_equal(a.replicates, b.replicates)
    reference = power_simulation(trial_spec, nsim=5, seed=3, backend="serial").replicates
    pd.testing.assert_frame_equal(single.replicates, reference)
    # backend="dask" without a client starts (and closes) its own local cluster
    own = power_simulation(trial_spec, nsim=5, seed=3, backend="dask", n_jobs=2)
    pd.testing.assert_frame_equal(own.replicates, reference)


def test_progress_bar_off_unless_terminal_or_asked(trial_spec, capsys):
    power_simulation(trial_spec, nsim=2, seed=1, backend="serial")
    assert "replicates" not in capsys.readouterr().err  # pytest's stderr is not a terminal
    power_simulation(trial_spec, nsim=2, seed=1, backend="serial", progress=True)
    assert "replicates" in capsys.readouterr().err


def test_chunks_cover_every_seed_in_order():
    seeds = list(range(23))
    chunks = chunk_seeds(seeds, 5)
    assert [s for c in chunks for s in c] == seeds
    assert max(map(len, chunks)) - min(map(len, chunks)) <= 1
    assert chunk_seeds([1, 2], 8) == [[1], [2]]


@pytest.mark.parametrize("kwargs,match", [
    (dict(backend="mpi"), "backend must be one of"),
    (dict(n_jobs=0), "n_jobs must be"),
])
def test_bad_backend_arguments(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        run_jobs([], **kwargs)
