"""Numbers written as text: thousands separators, decimal marks, nothing silently converted."""

from __future__ import annotations

import openpyxl
import pandas as pd
import pytest

from alliancestats.errors import DataValidationError, ParameterError
from alliancestats.io import load_sessions, read_table
from alliancestats.io.missing import MissingCodes
from alliancestats.io.numbers import NumberFormat, detect_decimal, parse_numeric

ROLES = {"patient": "id", "session": "s", "outcomes": "dose"}


def _csv(tmp_path, body: str, name: str = "d.csv"):
    path = tmp_path / name
    path.write_text("id,s,dose\n" + body, encoding="utf-8")
    return path


def test_grouped_thousands_in_a_comma_file_are_reported_not_read_as_decimals(tmp_path):
    # "1,000" and "12,500" used to become 1.0 and 12.5 without a word, even in strict mode
    path = _csv(tmp_path, '1,1,"1,000"\n1,2,"12,500"\n1,3,250\n')
    with pytest.raises(DataValidationError) as err:
        load_sessions(path, **ROLES)
    pr = err.value.problems
    assert pr["kind"].tolist() == ["ambiguous_number", "ambiguous_number"]
    assert pr["value"].tolist() == ["1,000", "12,500"]
    assert "1000 if ',' separates thousands, 1 if ',' is the decimal mark" in pr["reason"][0]
    lenient = load_sessions(path, **ROLES, strict=False, warn=False)
    assert lenient.data["dose"].tolist() == [250.0]
    assert lenient.n_read == lenient.n_kept + lenient.n_dropped


def test_thousands_option_reads_grouped_numbers(tmp_path):
    path = _csv(tmp_path, '1,1,"1,000"\n1,2,"12,500"\n1,3,250\n1,4,"1,234,567.5"\n')
    sd = load_sessions(path, **ROLES, thousands=",")
    assert sd.data["dose"].tolist() == [1000.0, 12500.0, 250.0, 1234567.5]


def test_malformed_grouping_is_not_a_number_with_thousands(tmp_path):
    path = _csv(tmp_path, '1,1,"1,00"\n')
    with pytest.raises(DataValidationError) as err:
        load_sessions(path, **ROLES, thousands=",")
    assert err.value.problems["kind"].tolist() == ["not_numeric"]


def test_explicit_decimal_comma_reads_the_value_as_the_user_said(tmp_path):
    path = tmp_path / "eu.csv"
    path.write_text("id;s;dose\n1;1;1,000\n1;2;3,5\n", encoding="utf-8")
    sd = load_sessions(path, **ROLES, decimal=",")
    assert sd.data["dose"].tolist() == [1.0, 3.5]


def test_point_groups_in_a_decimal_comma_file_are_ambiguous(tmp_path):
    # in a file whose decimal mark is a comma, 1.000 is most likely a thousand
    path = tmp_path / "eu.csv"
    path.write_text("id;s;dose\n1;1;3,5\n1;2;1.000\n", encoding="utf-8")
    with pytest.raises(DataValidationError) as err:
        load_sessions(path, **ROLES)
    assert err.value.problems[["row", "kind"]].values.tolist() == [[3, "ambiguous_number"]]
    sd = load_sessions(path, **ROLES, decimal=",", thousands=".")
    assert sd.data["dose"].tolist() == [3.5, 1000.0]


def test_decimal_comma_hint_is_never_given_for_grouped_values(tmp_path):
    path = _csv(tmp_path, '1,1,"12,500"\n', name="x.csv")
    with pytest.raises(DataValidationError) as err:
        load_sessions(path, **ROLES, decimal=".")
    (reason,) = err.value.problems["reason"]
    assert "decimal=','" not in reason and "thousands=','" in reason
    # an ungrouped decimal comma in a point-decimal file still gets the hint
    path = _csv(tmp_path, '1,1,"3,25"\n1,2,4.5\n', name="y.csv")
    with pytest.raises(DataValidationError) as err:
        load_sessions(path, **ROLES)
    assert "decimal=','" in err.value.problems["reason"][0]


def test_grouped_values_are_not_evidence_for_a_decimal_comma():
    assert detect_decimal(pd.DataFrame({"x": ["1,000", "12,500", "7"]})) == "."
    assert detect_decimal(pd.DataFrame({"x": ["3,5", "12,500"]})) == ","


def test_one_text_cell_in_an_excel_column_of_numbers(tmp_path):
    # a text cell "1,000" among numeric cells used to flip the decimal mark to ','
    path = tmp_path / "book.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["id", "s", "dose"])
    ws.append([1, 1, 250.5])
    ws.append([1, 2, "1,000"])
    wb.save(path)
    assert read_table(path).decimal == "."
    with pytest.raises(DataValidationError) as err:
        load_sessions(path, **ROLES)
    assert err.value.problems[["row", "value", "kind"]].values.tolist() == [
        [3, "1,000", "ambiguous_number"]
    ]
    assert load_sessions(path, **ROLES, thousands=",").data["dose"].tolist() == [250.5, 1000.0]


def test_dataframe_text_cells_follow_the_same_rule():
    frame = pd.DataFrame({"id": [1, 1], "s": [1, 2], "dose": ["1,000", 3.0]})
    with pytest.raises(DataValidationError) as err:
        load_sessions(frame, **ROLES)
    assert err.value.problems["kind"].tolist() == ["ambiguous_number"]


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("1_000", "bad"),
        ("0x1A", "bad"),
        ("12-3", "bad"),
        ("inf", "bad"),
        ("1e400", "bad"),
        (" 3.5 ", "ok"),
        ("+2", "ok"),
        (".5", "ok"),
        ("5.", "ok"),
        ("1e3", "ok"),
    ],
)
def test_only_plain_numbers_are_numbers(text, status):
    p = parse_numeric(pd.Series([text, "1"], dtype="str"), NumberFormat(), MissingCodes())
    assert bool(p.bad[0]) is (status == "bad")
    assert bool(p.bad[1]) is False


def test_thousands_and_decimal_must_differ():
    with pytest.raises(ParameterError, match="cannot both be"):
        NumberFormat.from_user(",", ",")
    with pytest.raises(ParameterError, match="thousands must be one of"):
        NumberFormat.from_user(None, "_")


def test_bulk_and_cell_by_cell_conversion_agree():
    # a column large enough for the bulk path, with junk scattered through it
    cells = [f"{i / 7:.6f}" for i in range(5000)]
    cells[10], cells[2500], cells[4999] = "x", "1,000", "NA"
    p = parse_numeric(pd.Series(cells, dtype="str"), NumberFormat(), MissingCodes())
    one_by_one = [
        parse_numeric(pd.Series([c], dtype=object), NumberFormat(), MissingCodes())
        for c in cells[:50] + cells[2490:2510] + cells[-5:]
    ]
    got = p.values.tolist()[:50] + p.values.tolist()[2490:2510] + p.values.tolist()[-5:]
    expected = [q.values.iloc[0] for q in one_by_one]
    assert pd.Series(got).equals(pd.Series(expected))
    assert p.bad.sum() == 2 and p.missing.sum() == 1
