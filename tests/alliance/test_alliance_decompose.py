"""Hand-computed checks of within_between, therapist_patient and lagged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import alliancestats as als
from alliancestats.alliance import lagged, therapist_patient, within_between
from alliancestats.errors import DataValidationError, ParameterError


@pytest.fixture
def sessions() -> pd.DataFrame:
    # two therapists; patient b has a missing value, patient c has one session; rows unsorted
    # and on a non-default index to check that order and labels are kept
    return pd.DataFrame(
        {
            "therapist": ["t1", "t1", "t1", "t1", "t1", "t2", "t2", "t2"],
            "patient": ["a", "a", "a", "b", "b", "c", "d", "d"],
            "session": [2, 1, 3, 1, 2, 1, 1, 2],
            "alliance": [4.0, 2.0, 3.0, 5.0, np.nan, 1.0, 2.0, 4.0],
            "pain": [6.0, 7.0, 5.0, 3.0, 2.0, 8.0, 6.0, 5.0],
        },
        index=[10, 11, 12, 20, 21, 30, 40, 41],
    )


# ---------------------------------------------------------------------------------------------
# within_between
# ---------------------------------------------------------------------------------------------
def test_within_between_hand_values(sessions):
    out = within_between(sessions, "alliance", center=None)
    # patient means over observed values: a 3, b 5 (missing ignored), c 1, d 3
    expected_between = [3.0, 3.0, 3.0, 5.0, np.nan, 1.0, 3.0, 3.0]
    expected_within = [1.0, -1.0, 0.0, 0.0, np.nan, 0.0, -1.0, 1.0]
    np.testing.assert_array_equal(out["alliance_between"], expected_between)
    np.testing.assert_array_equal(out["alliance_within"], expected_within)
    assert list(out.index) == list(sessions.index)
    assert list(out.columns) == [*sessions.columns, "alliance_between", "alliance_within"]
    assert "alliance_between" not in sessions.columns  # input untouched


def test_within_between_centring_options(sessions):
    raw = within_between(sessions, "alliance", center=None)["alliance_between"]
    grand = within_between(sessions, "alliance")["alliance_between"]
    patients = within_between(sessions, "alliance", center="patients")["alliance_between"]
    midpoint = within_between(sessions, "alliance", center=3)["alliance_between"]
    # grand mean of the 7 observed values: (4+2+3+5+1+2+4)/7 = 3; mean of patient means
    # (3+5+1+3)/4 = 3 as well, so use the non-trivial unbalanced case below too
    np.testing.assert_allclose(grand, raw - 3.0)
    np.testing.assert_allclose(patients, raw - 3.0)
    np.testing.assert_allclose(midpoint, raw - 3.0)
    unbalanced = pd.DataFrame({"patient": ["a", "a", "a", "b"], "x": [1.0, 1.0, 1.0, 5.0]})
    g = within_between(unbalanced, "x")["x_between"]
    p = within_between(unbalanced, "x", center="patients")["x_between"]
    # grand (observation-weighted) mean 2; mean of patient means 3
    np.testing.assert_allclose(g, [-1.0, -1.0, -1.0, 3.0])
    np.testing.assert_allclose(p, [-2.0, -2.0, -2.0, 2.0])
    # grand centring makes the between part average zero over the rows it is defined on
    assert abs(g.mean()) < 1e-12  # exact up to rounding


def test_within_between_parts_add_up_and_within_averages_zero():
    rng = np.random.default_rng(1)
    d = pd.DataFrame({"patient": rng.integers(0, 30, 400), "alliance": rng.normal(3.8, 0.5, 400)})
    d.loc[rng.choice(400, 40, replace=False), "alliance"] = np.nan
    out = within_between(d, "alliance", center=None)
    ok = d["alliance"].notna()
    # reconstruction is exact up to floating-point rounding
    np.testing.assert_allclose(
        (out["alliance_between"] + out["alliance_within"])[ok], d.loc[ok, "alliance"], atol=1e-12
    )
    assert out.loc[~ok, ["alliance_between", "alliance_within"]].isna().all().all()
    sums = out.loc[ok].groupby("patient")["alliance_within"].sum()
    assert np.abs(sums).max() < 1e-10  # deviations from the mean sum to zero (rounding only)


def test_within_between_several_columns_and_suffixes(sessions):
    out = within_between(
        sessions,
        ["alliance", "pain"],
        center=None,
        within_suffix="_cwc",
        between_suffix="_pm",
    )
    assert {"alliance_pm", "alliance_cwc", "pain_pm", "pain_cwc"} <= set(out.columns)
    assert out.loc[21, "pain_pm"] == pytest.approx(2.5)  # b's pain is observed at both sessions
    assert np.isnan(out.loc[21, "alliance_pm"])


def test_within_between_patient_without_values():
    d = pd.DataFrame({"patient": ["a", "a", "b"], "x": [np.nan, np.nan, 2.0]})
    out = within_between(d, "x")
    assert out["x_between"].isna().tolist() == [True, True, False]
    assert out.loc[2, "x_between"] == 0.0 and out.loc[2, "x_within"] == 0.0


def test_within_between_accepts_numeric_strings_and_nullable():
    d = pd.DataFrame({"patient": [1, 1], "x": pd.array([2, 4], dtype="Int64")})
    assert within_between(d, "x", center=None)["x_within"].tolist() == [-1.0, 1.0]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"column": "wai"}, DataValidationError, "not in the data"),
        ({"column": "alliance", "patient": "client"}, DataValidationError, "client"),
        ({"column": "alliance", "center": "median"}, ParameterError, "center"),
        ({"column": "alliance", "center": np.nan}, ParameterError, "finite"),
        ({"column": "alliance", "within_suffix": ""}, ParameterError, "overwrite"),
        (
            {"column": "alliance", "within_suffix": "_x", "between_suffix": "_x"},
            ParameterError,
            "repeat",
        ),
        ({"column": "patient"}, ParameterError, "patient column"),
        ({"column": []}, ParameterError, "at least one"),
    ],
)
def test_within_between_argument_errors(sessions, kwargs, error, match):
    with pytest.raises(error, match=match):
        within_between(sessions, **kwargs)


def test_within_between_data_errors(sessions):
    bad = sessions.astype({"alliance": object})
    bad.loc[12, "alliance"] = "high"
    with pytest.raises(DataValidationError, match="non-numeric") as info:
        within_between(bad, "alliance")
    assert info.value.problems[["row", "value"]].to_numpy().tolist() == [[12, "high"]]
    no_id = sessions.copy()
    no_id.loc[20, "patient"] = None
    with pytest.raises(DataValidationError, match="no 'patient'") as info:
        within_between(no_id, "alliance")
    assert info.value.problems["row"].tolist() == [20]
    inf = sessions.copy()
    inf.loc[10, "alliance"] = np.inf
    with pytest.raises(DataValidationError, match="infinite"):
        within_between(inf, "alliance")
    cat = sessions.assign(alliance=pd.Categorical(["low"] * 8))
    with pytest.raises(DataValidationError, match="not numeric"):
        within_between(cat, "alliance")
    with pytest.raises(ParameterError, match="DataFrame"):
        within_between(sessions.to_numpy(), "alliance")


# ---------------------------------------------------------------------------------------------
# therapist_patient
# ---------------------------------------------------------------------------------------------
def test_therapist_patient_patient_level(sessions):
    out = therapist_patient(sessions, "alliance", center=None, within=True)
    # patient means a 3, b 5, c 1, d 3; therapist means of patient means: t1 4, t2 2
    np.testing.assert_array_equal(
        out["alliance_therapist"], [4.0, 4.0, 4.0, 4.0, np.nan, 2.0, 2.0, 2.0]
    )
    np.testing.assert_array_equal(
        out["alliance_patient"], [-1.0, -1.0, -1.0, 1.0, np.nan, -1.0, 1.0, 1.0]
    )
    np.testing.assert_array_equal(
        out["alliance_within"], [1.0, -1.0, 0.0, 0.0, np.nan, 0.0, -1.0, 1.0]
    )
    # grand centring at patient level: mean of patient means = 3
    centred = therapist_patient(sessions, "alliance")["alliance_therapist"]
    np.testing.assert_array_equal(centred, out["alliance_therapist"] - 3.0)


def test_therapist_patient_session_level(sessions):
    out = therapist_patient(sessions, "alliance", level="session", center=None)
    # t1 sessions observed: 4, 2, 3, 5 -> 3.5; t2: 1, 2, 4 -> 7/3
    t2 = 7 / 3
    np.testing.assert_allclose(
        out["alliance_therapist"], [3.5, 3.5, 3.5, 3.5, np.nan, t2, t2, t2], rtol=1e-14
    )
    np.testing.assert_allclose(
        out["alliance_patient"],
        [-0.5, -0.5, -0.5, 1.5, np.nan, 1 - t2, 3 - t2, 3 - t2],
        rtol=1e-14,
    )
    # grand centring at session level: mean of the 7 observed sessions = 3
    centred = therapist_patient(sessions, "alliance", level="session")["alliance_therapist"]
    np.testing.assert_allclose(centred, out["alliance_therapist"] - 3.0, rtol=1e-14)


def test_therapist_patient_one_row_per_patient_levels_agree():
    d = pd.DataFrame(
        {"therapist": ["x", "x", "x", "y"], "patient": [1, 2, 3, 4], "wai": [5.0, 3.0, 4.0, 2.0]}
    )
    a = therapist_patient(d, "wai", level="patient")
    b = therapist_patient(d, "wai", level="session")
    pd.testing.assert_frame_equal(a, b)
    assert a["wai_patient"].tolist() == [1.0, -1.0, 0.0, 0.0]


def test_therapist_patient_rejects_patients_with_two_therapists(sessions):
    moved = sessions.copy()
    moved.loc[12, "therapist"] = "t2"
    with pytest.raises(DataValidationError, match="more than one therapist") as info:
        therapist_patient(moved, "alliance")
    assert sorted(info.value.problems["row"]) == [10, 11, 12]


def test_therapist_patient_errors(sessions):
    with pytest.raises(ParameterError, match="level"):
        therapist_patient(sessions, "alliance", level="therapist")
    with pytest.raises(ParameterError, match="different"):
        therapist_patient(sessions, "alliance", therapist="patient")
    with pytest.raises(DataValidationError, match="not in the data"):
        therapist_patient(sessions, "alliance", therapist="clinician")
    with pytest.raises(ParameterError, match="ID columns"):
        therapist_patient(sessions, "therapist")


def test_therapist_patient_recovers_baldwin_pattern_in_psychotherapy_sample():
    """The psychotherapy sample is simulated with therapist effect -12 and patient effect 0."""
    from alliancestats import lmm, read_sample

    d = read_sample("psychotherapy_cohort")
    d = therapist_patient(d, "wai_sr", within=True)
    fit = lmm(
        "symptoms ~ session + wai_sr_within + wai_sr_patient + wai_sr_therapist"
        " + (1 | patient) + (1 | therapist)",
        d.dropna(subset=["symptoms", "wai_sr"]),
    )
    fx = fit.fixed
    assert fx.loc["wai_sr_therapist", "ci_high"] < 0  # therapist alliance matters
    assert fx.loc["wai_sr_therapist", "ci_low"] < -12 < fx.loc["wai_sr_therapist", "ci_high"]
    assert fx.loc["wai_sr_patient", "ci_low"] < 0 < fx.loc["wai_sr_patient", "ci_high"]
    assert fx.loc["wai_sr_within", "ci_low"] < -3 < fx.loc["wai_sr_within", "ci_high"]


# ---------------------------------------------------------------------------------------------
# lagged
# ---------------------------------------------------------------------------------------------
def test_lagged_respects_gaps_and_order():
    d = pd.DataFrame(
        {
            "patient": ["a", "a", "a", "a", "b", "b"],
            "session": [3, 1, 2, 5, 2, 1],
            "alliance": [3.0, 1.0, 2.0, 5.0, np.nan, 4.0],
        },
        index=list("uvwxyz"),
    )
    out = lagged(d, "alliance")
    # a: session 3 <- 2 (2.0); 1 <- none; 2 <- 1 (1.0); 5 <- 4 missing (gap)
    # b: session 2 <- 1 (4.0); 1 <- none
    np.testing.assert_array_equal(out["alliance_lag1"], [2.0, np.nan, 1.0, np.nan, 4.0, np.nan])
    assert list(out.index) == list("uvwxyz")
    lag2 = lagged(d, "alliance", lag=2)["alliance_lag2"]
    np.testing.assert_array_equal(lag2, [1.0, np.nan, np.nan, 3.0, np.nan, np.nan])
    lead = lagged(d, "alliance", lag=-1)["alliance_lead1"]
    # b session 1 leads to session 2, whose value is missing
    np.testing.assert_array_equal(lead, [np.nan, 2.0, 3.0, np.nan, np.nan, np.nan])


def test_lagged_several_columns_keep_dtypes():
    d = pd.DataFrame(
        {
            "patient": [1, 1, 2],
            "session": pd.array([1, 2, 1], dtype="Int64"),
            "pain": pd.array([5, 4, 3], dtype="Int64"),
            "modality": pd.Series(["clinic", "tele", "clinic"], dtype="str"),
        }
    )
    out = lagged(d, ["pain", "modality"], suffix="_prev")
    assert out["pain_prev"].dtype == "Int64"
    assert out["pain_prev"].tolist()[1] == 5 and out["pain_prev"].isna().tolist() == [
        True,
        False,
        True,
    ]
    assert out["modality_prev"].tolist()[1] == "clinic"


def test_lagged_errors():
    d = pd.DataFrame({"patient": ["a", "a"], "session": [1, 1], "x": [1.0, 2.0]})
    with pytest.raises(DataValidationError, match="share a patient and session") as info:
        lagged(d, "x")
    assert info.value.problems["row"].tolist() == [0, 1]
    frac = d.assign(session=[1.0, 1.5])
    with pytest.raises(DataValidationError, match="whole session numbers"):
        lagged(frac, "x")
    gap = d.assign(session=[1.0, np.nan])
    with pytest.raises(DataValidationError, match="whole session numbers"):
        lagged(gap, "x")
    for bad in (0, 1.0, True, "1"):
        with pytest.raises(ParameterError, match="lag"):
            lagged(d.assign(session=[1, 2]), "x", lag=bad)
    with pytest.raises(ParameterError, match="overwrite"):
        lagged(d.assign(session=[1, 2]), "x", suffix="")
    # re-running replaces the derived column instead of failing
    once = lagged(d.assign(session=[1, 2]), "x")
    assert lagged(once, "x")["x_lag1"].tolist()[1] == 1.0
    with pytest.raises(DataValidationError, match="not in the data"):
        lagged(d, "y")


def test_duplicate_index_labels_and_categorical_ids_are_handled():
    d = pd.DataFrame(
        {
            "therapist": ["t", "t", "u"],
            "patient": pd.Categorical(["a", "a", "b"], categories=["a", "b", "z"]),
            "session": [1, 2, 1],
            "x": [1.0, 3.0, 2.0],
        },
        index=[0, 0, 1],
    )
    wb = within_between(d, "x", center=None)
    assert wb["x_within"].tolist() == [-1.0, 1.0, 0.0]
    tp = therapist_patient(d, "x", center=None)
    assert tp["x_therapist"].tolist() == [2.0, 2.0, 2.0]
    assert lagged(d, "x")["x_lag1"].tolist()[1] == 1.0
    assert list(lagged(d, "x").index) == [0, 0, 1]


def test_session_data_is_accepted_by_every_helper():
    raw = pd.DataFrame({"therapist": ["t", "t", "t", "u"], "patient": ["a", "a", "b", "c"],
                        "session": [1, 2, 1, 1], "wai": [3.0, 5.0, 2.0, 4.0]})
    sd = als.load_sessions(raw, patient="patient", session="session", therapist="therapist",
                           alliance="wai", warn=False)
    frame = sd.data
    pd.testing.assert_frame_equal(within_between(sd, "alliance"),
                                  within_between(frame, "alliance"))
    pd.testing.assert_frame_equal(therapist_patient(sd, "alliance"),
                                  therapist_patient(frame, "alliance"))
    pd.testing.assert_frame_equal(lagged(sd, "alliance"), lagged(frame, "alliance"))
    assert lagged(sd, "alliance")["alliance_lag1"].tolist()[1] == 3.0
