"""simulate_riclpm(): layout, truth, missing data, and moments implied by the true model."""

from __future__ import annotations

import numpy as np
import pytest

import alliancestats as als
from alliancestats.errors import ParameterError
from alliancestats.panel.riclpm import riclpm_spec


def test_layout_and_truth():
    df = als.simulate_riclpm(n_patients=20, n_waves=3, seed=1)
    assert df.columns.tolist() == ["patient", "session", "alliance", "symptoms"]
    assert len(df) == 60 and df["session"].tolist()[:3] == [1, 2, 3]
    truth = df.attrs["truth"]
    assert truth["phi"] == [[0.3, 0.0], [-4.0, 0.4]]
    within = np.array(truth["within_cov"])
    phi = np.array(truth["phi"])
    psi = np.array([[0.09, -0.2 * 0.3 * 8], [-0.2 * 0.3 * 8, 64.0]])
    assert np.allclose(within, phi @ within @ phi.T + psi)  # stationary
    named = als.simulate_riclpm(n_patients=5, n_waves=2, x="a", y="b", patient="id",
                                session="t", seed=1)
    assert named.columns.tolist() == ["id", "t", "a", "b"]


def test_same_seed_same_data():
    a = als.simulate_riclpm(n_patients=30, n_waves=4, seed=5)
    b = als.simulate_riclpm(n_patients=30, n_waves=4, seed=5)
    assert a.equals(b)


def test_dropout_is_monotone_and_missingness_is_at_random():
    df = als.simulate_riclpm(n_patients=2000, n_waves=6, dropout=0.2, missing_rate=0.1,
                             seed=3)
    per_patient = df.groupby("patient")["session"].agg(["min", "max", "count"])
    assert (per_patient["min"] == 1).all()
    assert (per_patient["count"] == per_patient["max"]).all()  # no gaps before dropout
    kept = per_patient["count"].value_counts(normalize=True).sort_index()
    # P(last session = 1) = dropout = .2; binomial SE with 2000 patients ~ .009
    assert abs(kept.loc[1] - 0.2) < 0.04
    assert abs(df["alliance"].isna().mean() - 0.1) < 0.02


def test_sample_moments_match_the_model_implied_moments():
    t = dict(ar_x=0.3, ar_y=0.5, x_to_y=-3.0, y_to_x=0.01, ri_sd_x=0.5, ri_sd_y=10.0,
             ri_corr=-0.4, innovation_sd_x=0.3, innovation_sd_y=6.0, innovation_corr=-0.3,
             slope_y=-1.0)
    df = als.simulate_riclpm(n_patients=60_000, n_waves=3, seed=17, **t)
    spec = riclpm_spec("alliance", "symptoms", [1, 2, 3])
    model = spec.compile()
    within = df.attrs["truth"]["within_cov"]
    values = {
        "RI_alliance~~RI_alliance.g1": t["ri_sd_x"] ** 2,
        "RI_symptoms~~RI_symptoms.g1": t["ri_sd_y"] ** 2,
        "RI_alliance~~RI_symptoms.g1": t["ri_corr"] * t["ri_sd_x"] * t["ri_sd_y"],
        "w_alliance_1~~w_alliance_1.g1": within[0][0],
        "w_symptoms_1~~w_symptoms_1.g1": within[1][1],
        "w_alliance_1~~w_symptoms_1.g1": within[0][1],
    }
    for w in (2, 3):
        values[f"w_alliance_{w}~~w_alliance_{w}.g1"] = t["innovation_sd_x"] ** 2
        values[f"w_symptoms_{w}~~w_symptoms_{w}.g1"] = t["innovation_sd_y"] ** 2
        values[f"w_alliance_{w}~~w_symptoms_{w}.g1"] = (
            t["innovation_corr"] * t["innovation_sd_x"] * t["innovation_sd_y"])
        for out, pred, key in (("alliance", "alliance", "ar_x"), ("alliance", "symptoms", "y_to_x"),
                               ("symptoms", "alliance", "x_to_y"), ("symptoms", "symptoms", "ar_y")):
            values[f"w_{out}_{w}~w_{pred}_{w - 1}.g1"] = t[key]
    for w in (1, 2, 3):
        values[f"alliance_{w}~1.g1"] = 4.0
        values[f"symptoms_{w}~1.g1"] = 70.0 - (w - 1)
    theta = np.array([values[label] for label in model.labels])
    implied = model.implied(theta)[0]
    wide = df.pivot(index="patient", columns="session", values=["alliance", "symptoms"])
    sample = wide.to_numpy()
    sample_cov = np.cov(sample.T)
    sd = np.sqrt(np.diag(implied.sigma))
    # 60,000 patients: correlations have sampling SD ~ .004, means ~ .005 SD
    assert np.abs((sample_cov - implied.sigma) / np.outer(sd, sd)).max() < 0.02
    assert np.abs((sample.mean(axis=0) - implied.mu) / sd).max() < 0.02


def test_invalid_arguments():
    with pytest.raises(ParameterError, match="not stationary"):
        als.simulate_riclpm(ar_x=1.1)
    with pytest.raises(ParameterError):
        als.simulate_riclpm(n_patients=1)
    with pytest.raises(ParameterError):
        als.simulate_riclpm(ri_sd_x=-1.0)
    with pytest.raises(ParameterError):
        als.simulate_riclpm(ri_corr=1.5)
    with pytest.raises(ParameterError):
        als.simulate_riclpm(dropout=1.0)
    with pytest.raises(ParameterError, match="different names"):
        als.simulate_riclpm(x="a", y="a")
