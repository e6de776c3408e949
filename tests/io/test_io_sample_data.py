"""The loader on the bundled sample data (the messy copies carry planted problems)."""

from __future__ import annotations

import pandas as pd
import pytest

from alliancestats.datasets import sample_path
from alliancestats.errors import DataQualityWarning, DataValidationError, DroppedRowsWarning
from alliancestats.io import load_sessions

MESSY_KW = {
    "patient": "patient_id",
    "therapist": "therapist",
    "date": "date",
    "layout": "wide",
    "instruments": {"wai_sr": "wai_{i}"},
    "alliance_rater": "patient",
    "outcomes": {"pain": "pain", "adherence": "adhered"},
    "covariates": ["arm", "sex", "age"],
    "scales": {"pain": "nrs", "adherence": (0, 1)},
    "today": "2026-01-01",
}

# planted problems documented in data/sample/README.md (Excel row, column, kind)
PLANTED = [
    (4, "wai_7_s2", "invalid_item"),
    (8, "pain_s3", "not_numeric"),
    (12, "date_s4", "future_date"),
    (16, "patient_id", "missing_id"),
    (22, "patient_id", "duplicate_id"),
    (42, "patient_id", "duplicate_id"),
]


@pytest.mark.parametrize(
    ("name", "offset", "kw"),
    [
        ("physio_messy", 0, {"sheet": "sessions"}),
        ("physio_messy_spss", -1, {}),  # SPSS case number = Excel row - 1
    ],
)
def test_messy_samples_report_every_planted_problem(name, offset, kw):
    with pytest.raises(DataValidationError) as err:
        load_sessions(sample_path(name), **MESSY_KW, **kw)
    pr = err.value.problems
    got = list(zip(pr["row"], pr["column"], pr["kind"], strict=True))
    assert got == [(row + offset, col, kind) for row, col, kind in PLANTED]


def test_messy_excel_and_spss_give_the_same_data():
    # the planted problems are dropped and reported, and the dropped rows leave session gaps
    with (
        pytest.warns(DroppedRowsWarning, match="physio_messy.xlsx"),
        pytest.warns(DataQualityWarning, match="gaps in their session numbers"),
    ):
        xl = load_sessions(sample_path("physio_messy"), sheet="sessions", strict=False, **MESSY_KW)
    with (
        pytest.warns(DroppedRowsWarning, match="physio_messy.sav"),
        pytest.warns(DataQualityWarning, match="gaps in their session numbers"),
    ):
        sav = load_sessions(sample_path("physio_messy_spss"), strict=False, **MESSY_KW)
    pd.testing.assert_frame_equal(
        xl.data.drop(columns="source_row"), sav.data.drop(columns="source_row")
    )
    assert (xl.data["source_row"] - 1).tolist() == sav.data["source_row"].tolist()
    assert xl.n_read == xl.n_kept + xl.n_dropped
    assert xl.n_patients == 38  # 41 rows: one without ID, one patient in two rows


def test_cohort_csv_loads_cleanly():
    sd = load_sessions(
        sample_path("physio_cohort"),
        patient="patient",
        therapist="therapist",
        session="session",
        date="date",
        instruments={"wai_sr": "wai_{i}", "odi": "odi_{i}"},
        outcomes={"pain": "pain"},
        covariates=["arm", "modality"],
        scales={"pain": "nrs"},
        warn=False,
    )
    raw = pd.read_csv(sample_path("physio_cohort"))
    assert sd.n_read == sd.n_kept == len(raw)
    assert sd.n_patients == raw["patient"].nunique()
    assert sd.n_therapists == raw["therapist"].nunique()
    assert sd.data["alliance"].dropna().between(1, 5).all()
