"""Excel workbooks: which sheet is read, formulas without values, stray far-away cells."""

from __future__ import annotations

import time

import openpyxl
import pytest

from alliancestats.errors import DataValidationError
from alliancestats.io import load_sessions, read_table

KW = {"patient": "id", "session": "s", "outcomes": "pain"}


def _book(path, rows, *, title="data"):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = title
    ws.append(["id", "s", "pain"])
    for r in rows:
        ws.append(r)
    return wb, ws


def test_a_hidden_first_sheet_is_not_read_by_default(tmp_path):
    # the hidden first sheet used to be read silently
    path = tmp_path / "hidden.xlsx"
    wb, ws = _book(path, [[1, 1, 9]], title="old export")
    ws.sheet_state = "hidden"
    visible = wb.create_sheet("sessions")
    for r in (["id", "s", "pain"], [1, 1, 3], [1, 2, 2]):
        visible.append(r)
    wb.active = 1
    wb.save(path)
    sd = load_sessions(path, **KW)
    assert sd.data["pain"].tolist() == [3.0, 2.0]
    assert "sheet 'sessions' read (the workbook's active sheet" in str(sd.summary())
    assert "hidden sheets not read: 'old export'" in sd.notes[0]
    # asking for it by name still works, and says it is hidden
    hidden = load_sessions(path, **KW, sheet="old export")
    assert hidden.data["pain"].tolist() == [9.0]
    assert "hidden in the workbook" in hidden.notes[0]


def test_the_active_visible_sheet_is_the_default(tmp_path):
    path = tmp_path / "two.xlsx"
    wb, _ = _book(path, [[1, 1, 5]], title="first")
    second = wb.create_sheet("second")
    for r in (["id", "s", "pain"], [2, 1, 7]):
        second.append(r)
    wb.active = 1
    wb.save(path)
    assert read_table(path).sheet == "second"


def test_formulas_without_a_computed_value_are_reported(tmp_path):
    # cells written by a script as formulas have no cached value and used to read as empty
    path = tmp_path / "formula.xlsx"
    wb, ws = _book(path, [[1, 1, 4], [1, 2, None], [1, 3, None]])
    ws["C3"] = "=C2-1"
    ws["D3"] = "=1+1"  # in no column of the table: not loaded, not reported
    wb.save(path)
    with pytest.raises(DataValidationError) as err:
        load_sessions(path, **KW)
    pr = err.value.problems
    assert pr[["row", "column", "kind"]].values.tolist() == [[3, "pain", "formula_without_value"]]
    assert "open and save it in Excel" in pr["reason"][0]


def test_a_stray_far_away_cell_does_not_pad_every_row(tmp_path):
    # one cell at XFD1048576 used to make loading take more than five minutes
    path = tmp_path / "stray.xlsx"
    wb, ws = _book(path, [[1, s, s] for s in range(1, 6)])
    ws["XFD1048576"] = "x"
    wb.save(path)
    start = time.perf_counter()
    table = read_table(path)
    elapsed = time.perf_counter() - start
    assert table.frame.shape[1] == 3
    assert [(p[1], p[4]) for p in table.problems] == [("(beyond column C)", "extra_fields")]
    assert table.rows[-1] == 1048576
    # generous bound (openpyxl still walks the row index); padding took minutes
    assert elapsed < 60
    sd = load_sessions(path, **KW, strict=False, warn=False)
    assert sd.n_kept == 5 and set(sd.dropped["row"]) == {1048576}
    assert "extra_fields" in set(sd.dropped["kind"])


def test_values_right_of_the_last_column_name_are_extra_fields(tmp_path):
    path = tmp_path / "notes.xlsx"
    wb, ws = _book(path, [[1, 1, 4], [1, 2, 3]])
    ws["E3"] = "checked by AB"
    wb.save(path)
    with pytest.raises(DataValidationError) as err:
        load_sessions(path, **KW)
    pr = err.value.problems
    assert pr[["row", "value", "kind"]].values.tolist() == [[3, "checked by AB", "extra_fields"]]
    assert "E3" in pr["reason"][0]
