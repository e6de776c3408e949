"""Property-based tests: arbitrary bad cells never crash and never lose a row."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alliancestats.errors import AllianceStatsWarning, DataValidationError, FileFormatError
from alliancestats.io import load_sessions
from alliancestats.io.convert import keep_column
from alliancestats.io.missing import MissingCodes
from alliancestats.io.numbers import NumberFormat
from alliancestats.io.textops import dictionary

# cells a messy export can contain: valid numbers, junk text, blanks, codes, dates, symbols
CELL = st.one_of(
    st.integers(-5, 15).map(str),
    st.floats(-1e6, 1e6, allow_nan=False).map(lambda x: f"{x:.3g}"),
    st.sampled_from(
        [
            "",
            " ",
            "NA",
            "n/a",
            ".",
            "-99",
            "inf",
            "-inf",
            "nan",
            "3,5",
            "1.2.3",
            "7-8",
            "50%",
            "2024-02-30",
            "31/12/2024",
            "TRUE",
            "yes",
            "\u00e9t\u00e9",
            "#DIV/0!",
            "1e400",
            "0x1A",
            "None",
            "2031-01-01",
            "  4 ",
        ]
    ),
    # no carriage return: pandas writes a lone CR unquoted, and every CSV reader (Excel too)
    # takes it for a line break, so the file would really have another row
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"),
        max_size=6,
    ),
)
ID = st.one_of(st.sampled_from(["1", "2", "3", "P4", "", "NA"]), st.integers(-1, 4).map(str))

ROW = st.tuples(ID, st.sampled_from(["A", "B", ""]), CELL, CELL, CELL, CELL)
KW = {
    "patient": "id",
    "therapist": "ther",
    "session": "visit",
    "date": "when",
    "alliance": "wai",
    "outcomes": {"pain": "nrs"},
    "scales": {"alliance": "wai_sr"},
    "today": "2026-01-01",
    "dayfirst": True,
    "warn": False,
}


def _frame(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["id", "ther", "visit", "when", "wai", "nrs"], dtype=object)


@given(st.lists(ROW, min_size=1, max_size=12))
def test_strict_raises_only_data_validation_errors(rows):
    frame = _frame(rows)
    try:
        sd = load_sessions(frame, **KW)
    except DataValidationError as err:
        assert err.problems is not None and len(err.problems) > 0
        assert set(err.problems["row"]) <= set(frame.index)
    else:
        assert sd.n_dropped == 0 and sd.n_read == len(frame)


@given(st.lists(ROW, min_size=1, max_size=12))
def test_lenient_never_loses_a_row(rows):
    frame = _frame(rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllianceStatsWarning)  # depends on the drawn rows
        sd = load_sessions(frame, strict=False, **KW)
    assert sd.n_read == len(frame)
    assert sd.n_kept + sd.n_dropped == sd.n_read
    kept = set(sd.data["source_row"])
    dropped = set(sd.dropped["row"])
    # every row is either kept or has at least one recorded problem, never both
    assert kept | dropped == set(frame.index)
    assert not kept & dropped
    assert sd.data["alliance"].dropna().between(1, 5).all()


@settings(max_examples=30)  # each example writes and reads a file
@given(st.lists(ROW, min_size=1, max_size=8))
def test_csv_files_behave_like_frames(tmp_path_factory, rows):
    frame = _frame(rows)
    path = tmp_path_factory.mktemp("h") / "h.csv"
    frame.to_csv(path, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllianceStatsWarning)  # depends on the drawn rows
        try:
            sd = load_sessions(path, strict=False, **KW)
        except DataValidationError as err:
            # only a configuration-level error (e.g. no data at all) may stop lenient mode
            assert err.problems is None or err.problems["row"].isna().all()
            return
    blank = sum(all(not str(c).strip() for c in r) for r in rows)
    assert sd.n_read == len(frame) - blank  # only completely empty lines are skipped
    assert sd.n_kept + sd.n_dropped == sd.n_read
    assert set(sd.data["source_row"]) | set(sd.dropped["row"]) <= set(range(2, len(frame) + 2))


WIDE_CELL = st.one_of(st.none(), st.integers(0, 12), CELL)


@settings(max_examples=30)  # each example reshapes a small wide table
@given(st.lists(st.tuples(ID, *[WIDE_CELL] * 4), min_size=1, max_size=8))
def test_wide_lenient_never_loses_a_record(rows):
    frame = pd.DataFrame(rows, columns=["id", "pain_s1", "pain_s2", "wai_s1", "wai_s2"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllianceStatsWarning)  # depends on the drawn rows
        sd = load_sessions(
            frame,
            patient="id",
            layout="wide",
            alliance="wai",
            outcomes="pain",
            strict=False,
            scales={"pain": (0, 10)},
        )
    assert sd.n_kept + sd.n_dropped == sd.n_read
    assert sd.n_read <= 2 * len(frame)
    assert set(sd.dropped["row"]) <= set(frame.index)
    assert sd.data["pain"].dropna().between(0, 10).all()


# ----------------------------------------------------------------------------- fidelity

GROUPED = st.integers(1000, 10**9).map(lambda v: (v, f"{v:,}"))


@settings(max_examples=25)  # each example writes and reads a file
@given(st.lists(GROUPED, min_size=1, max_size=6))
def test_thousands_separators_are_never_read_silently(tmp_path_factory, values):
    frame = pd.DataFrame({"id": range(len(values)), "s": 1, "dose": [text for _, text in values]})
    path = tmp_path_factory.mktemp("t") / "t.csv"
    frame.to_csv(path, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllianceStatsWarning)
        sd = load_sessions(path, patient="id", session="s", outcomes="dose", strict=False)
    assert sd.n_kept == 0 and set(sd.dropped["kind"]) == {"ambiguous_number"}
    exact = load_sessions(path, patient="id", session="s", outcomes="dose", thousands=",")
    assert exact.data["dose"].tolist() == [float(v) for v, _ in values]


NAME = (
    st.text(alphabet=st.sampled_from(list("abcxyzÄÖÜäöüßéèñåøØÆæ ")), min_size=1, max_size=8)
    .map(str.strip)
    .filter(bool)
)


@settings(max_examples=25)  # each example writes and reads a file
@given(
    st.lists(NAME, min_size=1, max_size=5),
    st.sampled_from(
        [
            ("utf-8", None),
            ("utf-8-sig", None),
            ("utf-16", None),
            ("cp1252", "cp1252"),
            ("latin-1", "latin-1"),
        ]
    ),
)
def test_text_survives_every_encoding_exactly(tmp_path_factory, names, codec):
    written, given_encoding = codec
    text = "id;s;name\n" + "".join(f"{i};1;{n}\n" for i, n in enumerate(names))
    path = tmp_path_factory.mktemp("e") / "e.csv"
    path.write_bytes(text.encode(written))
    sd = load_sessions(
        path, patient="id", session="s", covariates="name", encoding=given_encoding, warn=False
    )
    assert sd.data["name"].astype(str).tolist() == names


@settings(max_examples=25)  # each example writes and reads a file
@given(st.lists(NAME.filter(lambda n: not n.isascii()), min_size=2, max_size=5))
def test_a_file_mixing_utf8_and_latin1_is_refused(tmp_path_factory, names):
    body = "".join(f"{i};1;{n}\n" for i, n in enumerate(names))
    lines = body.splitlines(keepends=True)
    data = ("id;s;name\n" + "".join(lines[:-1])).encode("utf-8") + lines[-1].encode("latin-1")
    path = tmp_path_factory.mktemp("m") / "m.csv"
    path.write_bytes(data)
    with pytest.raises(FileFormatError, match="mixes encodings"):
        load_sessions(path, patient="id", session="s", covariates="name")


HUGE_IDS = st.lists(st.integers(2**53, 2**63 - 1), min_size=1, max_size=8, unique=True)


@settings(max_examples=25)  # each example writes and reads a file
@given(HUGE_IDS)
def test_huge_integer_ids_are_exact_from_csv_and_dataframe(tmp_path_factory, ids):
    frame = pd.DataFrame({"id": ids, "s": 1})
    path = tmp_path_factory.mktemp("i") / "i.csv"
    frame.to_csv(path, index=False)
    for source in (frame, path):
        sd = load_sessions(source, patient="id", session="s")
        assert sorted(sd.data["patient"].tolist()) == sorted(ids)
        assert sd.n_patients == len(ids)


NUMBER_LIKE = st.one_of(
    st.integers(-5, 15).map(str),
    st.sampled_from(["007", "0", "00", "0.5", "01.5", " 012 ", "9007199254740993", "-99", "+3"]),
    st.sampled_from(["", " ", "NA", ".", "2.50", "1e3"]),
)
# mostly number-like columns (where leading zeros and huge integers decide), sometimes anything
KEPT_CELLS = st.one_of(
    st.lists(NUMBER_LIKE, min_size=1, max_size=10),
    st.lists(st.one_of(NUMBER_LIKE, CELL), min_size=1, max_size=10),
)


@settings(max_examples=60)  # cheap: no file is written
@given(KEPT_CELLS, st.sampled_from([None, [-99]]))
def test_kept_columns_read_per_distinct_value_match_the_cell_by_cell_reading(cells, na_values):
    codes = MissingCodes.from_user(na_values)
    column = pd.Series(cells * 3, dtype="str")  # repeated values, as in a real kept column
    seen_value: dict[str, int] = {}
    seen_cell: dict[str, int] = {}
    by_value = keep_column(column, NumberFormat(), codes, seen=seen_value, by_value=True)
    by_cell = keep_column(column, NumberFormat(), codes, seen=seen_cell, by_value=False)
    pd.testing.assert_series_equal(by_value, by_cell)
    assert seen_value == seen_cell


@settings(max_examples=60)  # cheap: arrays only
@given(
    st.lists(st.one_of(st.none(), st.sampled_from(["a", " a", "b", "NA", "", "7 "])), max_size=20),
    st.data(),
)
def test_flags_of_distinct_values_reach_exactly_their_cells(cells, data):
    text = pa.large_string()  # two pieces, as the reader gives them
    d = dictionary(pa.chunked_array([pa.array(cells[:5], text), pa.array(cells[5:], text)]))
    shown = [None if i < 0 else d.values[i] for i in d.indices.tolist()]
    assert shown == [None if c is None else c.strip() for c in cells]
    flags = np.array(data.draw(st.lists(st.booleans(), min_size=len(d), max_size=len(d))), bool)
    expected = [True if i < 0 else bool(flags[i]) for i in d.indices.tolist()]
    assert d.per_cell(flags).tolist() == expected
