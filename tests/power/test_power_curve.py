"""power_curve and the nesting-aware resizing of designs (simr#282)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from alliancestats.errors import ObservedPowerWarning, ParameterError
from alliancestats.models import lmm
from alliancestats.power import power_curve, simulation_spec
from alliancestats.power.engine import make_template, simulate_response
from alliancestats.power.resize import resize, resize_rows
from alliancestats.power.spec import Nesting

pytestmark = pytest.mark.filterwarnings("ignore::alliancestats.errors.ConvergenceWarning")

ROWS = pd.DataFrame({
    "therapist": ["A"] * 6 + ["B"] * 6 + ["C"] * 6,
    "patient": [f"p{i // 3}" for i in range(18)],
    "arm": [0] * 6 + [1] * 6 + [0] * 6,
    "session": [i % 3 for i in range(18)],
})
NEST = Nesting("patient", "therapist", "session", "arm")


def test_adding_therapists_adds_their_patients_and_sessions():
    out = resize_rows(ROWS, NEST, "n_therapists", 5)
    assert out["therapist"].nunique() == 5
    assert out["patient"].nunique() == 10  # every therapist keeps two patients
    assert out.groupby("patient").size().eq(3).all()
    # arms alternate: A (arm 0), B (arm 1), C (arm 0), then copies A#1, B#1
    assert out.drop_duplicates("therapist")["therapist"].tolist() == ["A", "B", "C", "A#1", "B#1"]
    per = out.groupby("patient")["therapist"].nunique()
    assert (per == 1).all()  # copied patients stay nested in their copied therapist


def test_fewer_therapists_keep_arms_balanced():
    out = resize_rows(ROWS, NEST, "n_therapists", 2)
    assert sorted(out.drop_duplicates("therapist")["arm"]) == [0, 1]


def test_patients_per_therapist():
    out = resize_rows(ROWS, NEST, "n_patients", 3)
    assert out.groupby("therapist")["patient"].nunique().eq(3).all()
    assert "p0#1" in set(out["patient"])
    two_level = resize_rows(ROWS.drop(columns="therapist"), Nesting("patient", None, "session"),
                            "n_patients", 8)
    assert two_level["patient"].nunique() == 8


def test_sessions_are_cut_not_invented():
    out = resize_rows(ROWS, NEST, "n_sessions", 2)
    assert out.groupby("patient")["session"].max().eq(1).all()
    with pytest.raises(ParameterError, match="at most 3 sessions per patient"):
        resize_rows(ROWS, NEST, "n_sessions", 5)


def test_resize_errors():
    with pytest.raises(ParameterError, match="no therapist level"):
        resize_rows(ROWS, Nesting("patient", None, "session"), "n_therapists", 4)
    with pytest.raises(ParameterError, match="patient column"):
        resize_rows(ROWS, Nesting(), "n_patients", 4)


def test_longitudinal_spec_is_rebuilt(trial_spec):
    bigger = resize(trial_spec, "n_patients", 6)
    assert bigger.sizes() == {"therapists": 6, "patients": 36, "sessions": 5}
    longer = resize(trial_spec, "n_sessions", 8)
    assert longer.sizes()["sessions"] == 8
    assert longer.fixed["time:treatment"] != trial_spec.fixed["time:treatment"]  # t_end grows


def test_curve_table_and_determinism(trial_spec):
    a = power_curve(trial_spec, along="n_therapists", values=[2, 4], nsim=3, seed=5,
                    backend="serial")
    b = power_curve(trial_spec, along="n_therapists", values=[2, 4], nsim=3, seed=5,
                    backend="serial")
    pd.testing.assert_frame_equal(a.table, b.table)
    assert a.table["therapists"].tolist() == [4, 8]
    assert a.table["patients"].tolist() == [16, 32]
    assert a.table["nsim"].tolist() == [3, 3]
    assert len(a.results) == 2 and a.results[1].nsim == 3
    # each design point uses its own seeds
    assert set(a.results[0].replicates["seed"]).isdisjoint(a.results[1].replicates["seed"])
    assert "n_therapists" in a.summary()
    ax = a.plot()
    assert ax.get_xlabel() == "therapists"
    plt.close("all")


def test_curve_from_a_fit_along_patients():
    spec = simulation_spec("y ~ session + (1 | patient) + (1 | therapist)", ROWS,
                           fixed={"(Intercept)": 0, "session": 0.5},
                           random={"patient": {"sd": 1}, "therapist": {"sd": 0.5}}, sigma=1)
    t = make_template(spec, "session", "satterthwaite")
    data = ROWS.assign(y=simulate_response(t, np.random.default_rng(2)))
    fit = lmm("y ~ session + (1 | patient) + (1 | therapist)", data)
    with pytest.warns(ObservedPowerWarning):
        curve = power_curve(fit, along="n_patients", values=[2, 4], nsim=2, seed=1,
                            backend="serial")
    assert curve.table["patients"].tolist() == [6, 12]
    assert curve.table["rows"].tolist() == [18, 36]


def test_curve_argument_errors(trial_spec):
    with pytest.raises(ParameterError, match="along must be one of"):
        power_curve(trial_spec, along="n_clinics", values=[2], nsim=2)
    with pytest.raises(ParameterError, match="non-empty list"):
        power_curve(trial_spec, along="n_patients", values=[], nsim=2)
    with pytest.raises(ParameterError, match="values\\[1\\]"):
        power_curve(trial_spec, along="n_patients", values=[2, 0], nsim=2)
