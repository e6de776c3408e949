"""The shape of text files: extra fields, stray quotes, huge fields, blank lines."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from alliancestats.errors import DataQualityWarning, DataValidationError
from alliancestats.io import load_sessions, read_table

ROLES = {"patient": "pid", "session": "sess", "alliance": "wai"}


def test_row_with_more_fields_than_the_header_is_a_problem(tmp_path):
    # "2,1,3,5" (an unquoted decimal comma) used to pass strict mode with only a warning
    path = tmp_path / "ragged.csv"
    path.write_text("pid,sess,wai\n1,1,4\n1,2,4.5\n2,1,3,5\n", encoding="utf-8")
    with pytest.raises(DataValidationError) as err:
        load_sessions(path, **ROLES)
    pr = err.value.problems
    assert pr[["row", "value", "kind"]].values.tolist() == [[4, "5", "extra_fields"]]
    assert "4 fields but the header has 3" in pr["reason"][0]
    sd = load_sessions(path, **ROLES, strict=False, warn=False)
    assert (sd.n_read, sd.n_kept, sd.n_dropped) == (3, 2, 1)
    assert sd.dropped["kind"].tolist() == ["extra_fields"]


def test_trailing_empty_fields_are_not_extra_fields(tmp_path):
    path = tmp_path / "trailing.csv"
    path.write_text("pid,sess,wai\n1,1,4,,\n1,2,4.5\n", encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataQualityWarning)
        data = load_sessions(path, **ROLES)
    assert data.data["alliance"].tolist() == [4.0, 4.5]


def test_a_stray_quote_that_swallows_rows_is_reported_at_its_row(tmp_path):
    # the quote in row 3 used to swallow rows 4-7 into one field without a word
    body = "".join(f"1,{s},{3 + s / 10}\n" for s in range(1, 8))
    lines = body.splitlines()
    lines[1] = '1,2,"4.2'
    path = tmp_path / "quote.csv"
    path.write_text("pid,sess,wai\n" + "\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataValidationError) as err:
        load_sessions(path, **ROLES)
    pr = err.value.problems.set_index("kind")
    # the swallowed text is also not a number: both are reported, at the row of the quote
    assert set(pr.index) == {"unmatched_quote", "not_numeric"}
    assert set(pr["row"]) == {3}
    assert "lines 3-8" in pr.loc["unmatched_quote", "reason"]


def test_a_short_quoted_line_break_is_data(tmp_path):
    path = tmp_path / "note.csv"
    path.write_text('pid,sess,wai,note\n1,1,4,"first\nsecond"\n1,2,4.5,ok\n', encoding="utf-8")
    sd = load_sessions(path, **ROLES)
    assert sd.data["note"].tolist() == ["first\nsecond", "ok"]
    assert sd.data["source_row"].tolist() == [2, 3]


def test_a_field_beyond_the_csv_module_limit_is_read_not_crashed(tmp_path):
    # a field over 131,072 characters used to raise the csv module's raw _csv.Error
    path = tmp_path / "huge.csv"
    path.write_text('pid,sess,wai\n1,1,"' + "x" * 200_000 + "\n1,2,4\n", encoding="utf-8")
    with pytest.raises(DataValidationError) as err:
        load_sessions(path, **ROLES)
    assert "unmatched_quote" in err.value.problems["kind"].tolist()


def _cohort_csv(path, n=3000, extra=""):
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "pid": np.repeat(np.arange(n // 10), 10)[:n],
            "sess": np.tile(np.arange(1, 11), n // 10 + 1)[:n],
            "wai": np.round(rng.uniform(1, 5, n), 3),
            "arm": rng.choice(["control", "exercise"], n),
        }
    )
    frame.loc[5, "wai"] = np.nan
    text = frame.to_csv(index=False) + extra
    path.write_text(text, encoding="utf-8")
    return path


def test_fast_and_exact_readers_give_the_same_cells(tmp_path):
    regular = read_table(_cohort_csv(tmp_path / "a.csv"))
    # a ragged last line sends the file through the record-by-record reader
    ragged = read_table(_cohort_csv(tmp_path / "b.csv", extra="1\n"))
    assert not ragged.problems and regular.frame.shape[1] == ragged.frame.shape[1]
    pd.testing.assert_frame_equal(
        regular.frame.iloc[: len(regular.frame)].reset_index(drop=True),
        ragged.frame.iloc[: len(regular.frame)].reset_index(drop=True),
    )
    assert regular.rows.tolist() == ragged.rows[: len(regular.rows)].tolist()


def test_blank_lines_keep_row_numbers_in_both_readers(tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text("pid,sess,wai\n1,1,3\n\n , ,\n1,2,x\n", encoding="utf-8")
    with pytest.raises(DataValidationError) as err:
        load_sessions(path, **ROLES)
    assert err.value.problems["row"].tolist() == [5]
    assert read_table(path).n_blank == 2
