"""Files written by the library cannot carry spreadsheet formulas (CSV/formula injection)."""

from __future__ import annotations

import csv

import openpyxl
import pandas as pd
import pytest

from alliancestats._export import neutralize, write_csv, write_excel
from alliancestats.report.config import load_config
from alliancestats.report.content import SectionOutput
from alliancestats.report.context import ReportContext

HOSTILE = ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1:A9)", "\t=1", "\r=1"]


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "note": HOSTILE + ["plain", "-3.5", "+1e-3"],
            "value": [-1.0, 2.0, -3.0, 4.0, 5.0, 6.0, 7.0, -8.5, 9.0],
            "group": pd.Categorical(["=A1"] * 4 + ["b"] * 5),
        }
    )


def test_text_starting_with_a_formula_character_is_neutralised():
    out = neutralize(_frame())
    assert out["note"].tolist() == ["'" + h for h in HOSTILE] + ["plain", "-3.5", "+1e-3"]
    assert out["value"].tolist() == _frame()["value"].tolist()  # numbers untouched
    assert out["group"].cat.categories.tolist() == ["'=A1", "b"]


def test_column_names_and_index_labels_are_neutralised_too():
    frame = pd.DataFrame({"=cmd": [1]}, index=pd.Index(["@x"]))
    out = neutralize(frame)
    assert out.columns.tolist() == ["'=cmd"] and out.index.tolist() == ["'@x"]


def test_write_csv_writes_no_cell_a_spreadsheet_would_run(tmp_path):
    path = write_csv(_frame(), tmp_path / "t.csv", index=False)
    with open(path, newline="", encoding="utf-8") as fh:
        cells = [c for row in csv.reader(fh) for c in row]
    risky = [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))]
    assert sorted(risky) == sorted(["-1.0", "-3.0", "-3.5", "+1e-3", "-8.5"])  # numbers only


def test_write_excel_stores_text_not_formulas(tmp_path):
    path = write_excel(_frame(), tmp_path / "t.xlsx", index=False)
    ws = openpyxl.load_workbook(path).active
    kinds = {ws.cell(row=r, column=1).data_type for r in range(2, 2 + len(HOSTILE))}
    assert kinds == {"s"}  # strings, never 'f' (formula)
    assert ws.cell(row=2, column=1).value == "'" + HOSTILE[0]


@pytest.mark.parametrize("writer", ["csv"])
def test_the_report_tables_are_written_safely(writer, tmp_path):
    # the demo's CSV writer used to copy cells verbatim
    ctx = ReportContext(out=tmp_path, config=load_config({}))
    ctx.table(SectionOutput("s", "S"), "t", "t", pd.DataFrame({"patient": ["=1+1", "P2"]}))
    assert (tmp_path / "tables" / "t.csv").read_text(encoding="utf-8").splitlines() == [
        "patient",
        "'=1+1",
        "P2",
    ]
