"""Text and boolean binary responses survive loading unchanged, from every source."""

from __future__ import annotations

import openpyxl
import pandas as pd
import pyreadstat
import pytest

from alliancestats.errors import DataValidationError
from alliancestats.io import load_sessions

KW = {"patient": "id", "session": "s", "outcomes": {"adhered": "did"}}
YN = ["Y", "N", "Y", "N"]


def _frame(values) -> pd.DataFrame:
    return pd.DataFrame({"id": [1, 1, 2, 2], "s": [1, 2, 1, 2], "did": values})


@pytest.mark.parametrize(
    "values",
    [YN, ["yes", "no", "no", "yes"], pd.array(YN, dtype="string"), pd.array(YN, dtype="str")],
)
def test_text_responses_from_a_dataframe_are_kept(values):
    # "Y"/"N" used to be refused as not numeric
    sd = load_sessions(_frame(values), **KW)
    assert sd.data["adhered"].tolist() == list(values)
    assert any("two-valued response" in n for n in sd.notes)


def test_boolean_responses_stay_booleans():
    sd = load_sessions(_frame([True, False, True, False]), **KW)
    assert str(sd.data["adhered"].dtype) == "boolean"
    assert sd.data["adhered"].tolist() == [True, False, True, False]
    with_missing = load_sessions(_frame(pd.array([True, None, False, True], dtype="boolean")), **KW)
    assert with_missing.data["adhered"].tolist() == [True, pd.NA, False, True]


def test_categorical_responses_keep_their_level_order():
    cat = pd.Categorical(["no", "yes", "yes", "no"], categories=["yes", "no"])
    out = load_sessions(_frame(cat), **KW).data["adhered"]
    assert out.cat.categories.tolist() == ["yes", "no"] and out.tolist() == list(cat)


def test_text_responses_from_csv_excel_and_spss(tmp_path):
    frame = _frame(YN)
    csv = tmp_path / "r.csv"
    frame.to_csv(csv, index=False)
    xlsx = tmp_path / "r.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(list(frame.columns))
    for row in frame.itertuples(index=False):
        ws.append(list(row))
    wb.save(xlsx)
    sav = tmp_path / "r.sav"
    pyreadstat.write_sav(frame.astype({"id": float, "s": float}), str(sav))
    for path in (csv, xlsx, sav):
        assert load_sessions(path, **KW).data["adhered"].tolist() == YN, path.suffix


def test_excel_true_false_cells_stay_booleans(tmp_path):
    path = tmp_path / "b.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    for row in (["id", "s", "did"], [1, 1, True], [1, 2, False], [2, 1, None]):
        ws.append(row)
    wb.save(path)
    out = load_sessions(path, **KW).data["adhered"]
    assert str(out.dtype) == "boolean" and out.tolist() == [True, False, pd.NA]


def test_missing_codes_in_a_text_response_are_missing():
    out = load_sessions(_frame(["Y", "NA", " N ", "Y"]), **KW).data["adhered"]
    assert out.isna().tolist() == [False, True, False, False]
    assert out.dropna().tolist() == ["Y", "N", "Y"]


@pytest.mark.parametrize("values", [["Y", "N", "maybe", "Y"], ["1", "x", "1", "0"]])
def test_three_values_or_numbers_mixed_with_text_are_still_problems(values):
    with pytest.raises(DataValidationError):
        load_sessions(_frame(values), **KW)


def test_a_declared_scale_makes_the_response_numeric():
    sd = load_sessions(_frame([True, False, True, False]), **KW, scales={"adhered": (0, 1)})
    assert sd.data["adhered"].tolist() == [1.0, 0.0, 1.0, 0.0]
