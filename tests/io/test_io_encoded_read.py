"""Text columns read dictionary-encoded load exactly as when every cell is plain text.

Covariates and undeclared columns whose first lines repeat few values are read by pyarrow
dictionary-encoded (one copy of each distinct text, an index per cell). Whatever comes later
in the file (a number with leading zeros, a missing-value code, spaces, a decimal comma, a
blank row, a value seen nowhere else), the loaded data, the problems and the notes must be
what the same file gives when those columns are read as plain text.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import alliancestats.io.typed as typed
from alliancestats.errors import AllianceStatsWarning
from alliancestats.io import load_sessions, read_table
from alliancestats.io.convert import MissingCodes, keep_column
from alliancestats.io.text import TypeHints

ROWS = 2000  # well beyond the first lines from which the reading types are chosen
ROLES = {
    "patient": "pid",
    "session": "visit",
    "alliance": "wai",
    "covariates": ["arm"],
    "strict": False,
}


def _lines(late: dict[str, str], delimiter: str = ",") -> list[str]:
    rng = np.random.default_rng(11)
    cells = {
        "pid": [f"P{i // 8:04d}" for i in range(ROWS)],
        "visit": [str(i % 8 + 1) for i in range(ROWS)],
        "wai": [f"{x:.2f}" for x in rng.uniform(1, 7, ROWS)],
        "arm": rng.choice(["control", "exercise"], ROWS).tolist(),
        "dose": [str(x) for x in rng.integers(1, 6, ROWS)],
        "flag": rng.choice(["yes", "no"], ROWS).tolist(),
        "site": rng.choice(["12", "15", "19"], ROWS).tolist(),
    }
    for column, cell in late.items():
        cells[column][ROWS - 5] = cell
    header = delimiter.join(cells)
    rows = [delimiter.join(values) for values in zip(*cells.values(), strict=True)]
    return [header, *rows]


def _load(path, encode: bool, monkeypatch, **extra):
    with monkeypatch.context() as m:
        if not encode:
            m.setattr(typed, "few_values", lambda arr: False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AllianceStatsWarning)
            return load_sessions(path, **{**ROLES, **extra})


def _same(path, monkeypatch, **extra) -> None:
    encoded = _load(path, True, monkeypatch, **extra)
    plain = _load(path, False, monkeypatch, **extra)
    pd.testing.assert_frame_equal(encoded.data, plain.data, check_exact=True)
    pd.testing.assert_frame_equal(encoded.dropped, plain.dropped, check_exact=True)
    pd.testing.assert_frame_equal(encoded.missing_codes, plain.missing_codes)
    assert encoded.notes == plain.notes


def _encoded_columns(path) -> frozenset:
    hints = TypeHints(frozenset({"visit", "wai"}), frozenset({"pid"}))
    return read_table(path, types=hints).encoded_columns


LATE = [
    {},
    {"dose": "007"},  # leading zeros: the column stays text
    {"dose": "NA", "site": "missing"},  # missing-value codes, counted per cell
    {"dose": " 3 ", "arm": " control"},  # spaces around a value
    {"dose": "2.5e1", "site": "1e400"},  # exponents; a number too large for a float
    {"arm": "", "flag": "maybe"},  # an empty covariate, a third value
    {"site": "12345678901234567890"},  # digits beyond 2**53
]


@pytest.mark.parametrize("late", LATE, ids=lambda d: ",".join(f"{k}={v!r}" for k, v in d.items()))
def test_encoded_columns_load_as_plain_text(late, tmp_path, monkeypatch):
    path = tmp_path / "encoded.csv"
    path.write_text("\n".join(_lines(late)) + "\n")
    assert {"arm", "dose", "flag", "site"} <= _encoded_columns(path)
    _same(path, monkeypatch)


def test_kept_values_and_categories_are_unchanged(tmp_path, monkeypatch):
    path = tmp_path / "encoded.csv"
    path.write_text("\n".join(_lines({"dose": "007", "site": "NA"})) + "\n")
    data = _load(path, True, monkeypatch).data
    assert data["dose"].dtype == "str" and (data["dose"] == "007").sum() == 1
    assert data["site"].dtype == "float64" and data["site"].isna().sum() == 1
    assert data["arm"].cat.categories.tolist() == ["control", "exercise"]


def test_blank_rows_in_encoded_columns(tmp_path, monkeypatch):
    lines = _lines({})
    lines.insert(900, ",,,,,,")
    lines.insert(1500, "  ,,,  ,,   ,")
    path = tmp_path / "blank.csv"
    path.write_text("\n".join(lines) + "\n")
    _same(path, monkeypatch)
    rows = _load(path, True, monkeypatch).data["source_row"]
    assert {901, 1501}.isdisjoint(rows) and rows.max() == ROWS + 3  # header = row 1


def test_decimal_comma_seen_in_an_encoded_column(tmp_path, monkeypatch):
    # whole-number alliance scores: the only decimal commas are in the undeclared "site"
    lines = [line.replace(",", ";") for line in _lines({})]
    lines = [lines[0]] + [
        ";".join([*parts[:2], parts[2].split(".")[0], *parts[3:6], "3,5" if k % 2 else "4,5"])
        for k, parts in enumerate(line.split(";") for line in lines[1:])
    ]
    path = tmp_path / "comma.csv"
    path.write_text("\n".join(lines) + "\n")
    _same(path, monkeypatch)
    assert _load(path, True, monkeypatch).data["site"].tolist()[:2] == [4.5, 3.5]
    # with no column typed, the decimal mark is detected from the encoded column's values
    encoded = read_table(path, types=TypeHints(frozenset(), frozenset({"pid"})))
    assert "site" in encoded.encoded_columns
    assert encoded.decimal == read_table(path).decimal == ","


@pytest.mark.parametrize(
    "odd", ["", "NA", " MISSING ", "miſſing", "2024-01-02\u00a0", " 2024-01-02", "2024-01-02"]
)
def test_kept_text_without_codes_is_kept_as_written(odd):
    # long ASCII cells are taken as they are; any cell that could be a code or needs trimming
    # sends the column through the per-value path, with the same result
    cells = pd.Series([f"2024-01-{k % 28 + 1:02d}" for k in range(500)] + [odd], dtype="str")
    codes = MissingCodes()
    seen_cells: dict[str, int] = {}
    seen_values: dict[str, int] = {}
    by_cell = keep_column(cells, ".", codes, seen=seen_cells, by_value=False)
    by_value = keep_column(cells, ".", codes, seen=seen_values, by_value=True)
    pd.testing.assert_series_equal(by_cell, by_value, check_exact=True)
    assert seen_cells == seen_values
