"""SessionData: mapping, summary, repr; role naming rules."""

from __future__ import annotations

import pandas as pd
import pytest
from io_cohort import KW

from alliancestats.errors import DataValidationError, ParameterError
from alliancestats.io import SessionData, SessionSummary, load_sessions


def test_mapping_table(long_frame):
    sd = load_sessions(long_frame, alliance_rater="patient", **KW)
    m = sd.mapping.set_index("name")
    assert m.loc["alliance", ["kind", "source_column", "rater", "instrument"]].tolist() == [
        "alliance",
        "wai",
        "patient",
        "wai_sr",
    ]
    assert m.loc["alliance_bond", ["min", "max"]].tolist() == [1.0, 5.0]
    assert m.loc["function", ["min", "max"]].tolist() == [0.0, 100.0]
    assert sd.alliance_columns == ["alliance", "alliance_bond"]
    assert sd.outcome_columns == ["pain", "function"]
    assert sd.covariate_columns == ["arm", "modality"]


def test_summary_is_tidy_and_readable(long_frame):
    sd = load_sessions(long_frame, planned_sessions=4, **KW)
    s = sd.summary()
    assert isinstance(s, SessionSummary)
    c = s.counts
    assert (c["rows_read"], c["patients"], c["therapists"], c["sessions"]) == (23, 6, 3, 23)
    assert s.sessions_per_patient["max"] == 4 and s.sessions_per_patient["min"] == 3
    assert s.per_therapist["patients"].tolist() == [2, 2, 2]
    assert s.missingness.loc["alliance", "n_missing"] == 0
    assert s.gaps["patient"].tolist() == [102] and s.gaps["missing_sessions"][0] == "3"
    assert s.dropout.empty  # everyone reaches session 4
    text = str(s)
    assert "23 read, 23 kept, 0 dropped" in text and "6 patients, 3 therapists" in text
    assert s.to_frame().columns.tolist() == ["metric", "value"]


def test_repr_names_roles_and_counts(long_frame):
    sd = load_sessions(long_frame, alliance_rater="patient", **KW)
    text = repr(sd)
    assert text.startswith("SessionData: 6 patients, 3 therapists, 23 sessions")
    assert "alliance <- 'wai' [patient-rated, wai_sr, range 1-5]" in text
    assert "<table" in sd._repr_html_()
    assert len(sd) == 23 and isinstance(sd, SessionData)


@pytest.mark.parametrize(
    ("kw", "columns"),
    [
        ({"alliance": "w"}, ["alliance"]),
        ({"alliance": ["w", "b"]}, ["w", "b"]),
        ({"alliance": {"total": "w", "bond": "b"}}, ["alliance", "alliance_bond"]),
        (
            {"alliance": {"patient": "w", "therapist": "b"}},
            ["alliance_patient", "alliance_therapist"],
        ),
        ({"outcomes": "w"}, ["w"]),
        ({"outcomes": {"pain": "w", "function": "b"}}, ["pain", "function"]),
        ({"covariates": {"arm": "w"}}, ["arm"]),
    ],
)
def test_role_naming(kw, columns):
    frame = pd.DataFrame({"id": [1], "s": [1], "w": [3.0], "b": [4.0]})
    d = load_sessions(frame, patient="id", session="s", keep="declared", **kw).data
    assert d.columns.tolist() == ["patient", "session", *columns, "source_row"]


def test_bad_arguments_are_explained():
    frame = pd.DataFrame({"id": [1], "s": [1], "w": [3.0], "b": [4.0]})
    with pytest.raises(ValueError, match="both be called 'w'"):
        load_sessions(frame, patient="id", session="s", alliance=["w"], outcomes=["w"])
    with pytest.raises(ValueError, match="standard column made by the loader"):
        load_sessions(frame, patient="id", session="s", outcomes={"session": "w"})
    with pytest.raises(ValueError, match="rater must be one of"):
        load_sessions(frame, patient="id", session="s", alliance="w", alliance_rater="client")
    with pytest.raises(ValueError, match="not columns being loaded"):
        load_sessions(frame, patient="id", session="s", alliance="w", scales={"pain": "nrs"})
    with pytest.raises(ValueError, match="session= is required"):
        load_sessions(frame, patient="id", alliance="w")
    with pytest.raises(ValueError, match="layout must be"):
        load_sessions(frame, patient="id", session="s", layout="tall")


def test_sum_scale_and_explicit_ranges():
    frame = pd.DataFrame({"id": [1, 1], "s": [1, 2], "w": [48.0, 61.0], "b": [13.0, 21.0]})
    with pytest.raises(Exception) as err:
        load_sessions(
            frame,
            patient="id",
            session="s",
            alliance={"total": "w", "bond": "b"},
            scales={"alliance": "wai_sr:sum"},
        )
    pr = err.value.problems
    assert pr[["row", "column", "value"]].values.tolist() == [[1, "w", 61.0], [1, "b", 21.0]]
    assert "12-60" in pr["reason"][0] and "4-20" in pr["reason"][1]
    ok = load_sessions(
        frame.iloc[:1], patient="id", session="s", outcomes={"x": "w"}, scales={"x": (0, 50)}
    )
    assert ok.data["x"].tolist() == [48.0]


def test_keep_other_columns():
    frame = pd.DataFrame({"id": [1], "s": [1], "w": [3.0], "note": ["ok"]})
    d = load_sessions(frame, patient="id", session="s", alliance="w", keep_other_columns=True).data
    assert d.columns.tolist() == ["patient", "session", "alliance", "note", "source_row"]
    d = load_sessions(frame, patient="id", session="s", alliance="w", keep_other_columns=False)
    assert d.data.columns.tolist() == ["patient", "session", "alliance", "source_row"]


UNDECLARED = pd.DataFrame(
    {
        "id": [1, 1, 2],
        "s": [1, 2, 1],
        "pain": [5, 4, 6],
        "arm": ["a", "a", "b"],
        "age": ["34", "34", "51"],
        "note": ["x", None, "y"],
    }
)


def test_undeclared_columns_are_kept_by_default():
    # undeclared columns used to be dropped silently, so a later session*arm model failed
    d = load_sessions(UNDECLARED, patient="id", session="s", outcomes="pain").data
    assert d.columns.tolist() == ["patient", "session", "pain", "arm", "age", "note", "source_row"]
    assert d["arm"].tolist() == ["a", "a", "b"]  # text stays text, unchanged
    assert d["age"].tolist() == [34.0, 34.0, 51.0]  # text cells that are numbers become numbers
    assert d["note"].isna().tolist() == [False, True, False]


def test_keep_declared_lists_what_was_left_out():
    sd = load_sessions(UNDECLARED, patient="id", session="s", outcomes="pain", keep="declared")
    assert sd.data.columns.tolist() == ["patient", "session", "pain", "source_row"]
    assert sd.columns_not_kept == ["arm", "age", "note"]
    assert "columns not kept: 'arm', 'age', 'note'" in str(sd.summary())
    some = load_sessions(UNDECLARED, patient="id", session="s", outcomes="pain", keep=["arm"])
    assert "arm" in some.data and some.columns_not_kept == ["age", "note"]
    with pytest.raises(DataValidationError, match="not found"):
        load_sessions(UNDECLARED, patient="id", session="s", keep=["sex"])
    with pytest.raises(ParameterError, match="keep must be"):
        load_sessions(UNDECLARED, patient="id", session="s", keep="some")


def test_an_undeclared_column_named_like_a_standard_column_is_not_kept():
    frame = UNDECLARED.assign(alliance=[1, 2, 3], wai=[4.0, 4.5, 3.0])
    sd = load_sessions(frame, patient="id", session="s", alliance="wai")
    assert sd.data["alliance"].tolist() == [4.0, 4.5, 3.0]
    assert "alliance" in sd.columns_not_kept


def test_kept_columns_that_numbers_would_change_stay_text(tmp_path):
    path = tmp_path / "k.csv"
    path.write_text(
        "id,s,zip,registry,score\n1,1,01234,12345678901234567891,3\n1,2,10115,7,4\n",
        encoding="utf-8",
    )
    d = load_sessions(path, patient="id", session="s").data
    assert d["zip"].tolist() == ["01234", "10115"]  # a postcode keeps its leading zero
    assert d["registry"].tolist() == ["12345678901234567891", "7"]  # no digits lost
    assert d["score"].tolist() == [3.0, 4.0]
