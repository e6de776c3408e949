"""Every file format round-trips through load_sessions to the same canonical frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest
from io_cohort import KW

from alliancestats.errors import DataValidationError, FileFormatError
from alliancestats.io import load_sessions, read_table


def _write(frame: pd.DataFrame, path: Path, kind: str) -> Path:
    if kind == "csv":
        frame.to_csv(path, index=False)
    elif kind == "tsv":
        frame.to_csv(path, sep="\t", index=False)
    elif kind == "csv_eu":
        frame.to_csv(path, sep=";", decimal=",", index=False)
    elif kind == "xlsx":
        frame.to_excel(path, index=False)
    elif kind == "sav":
        pyreadstat.write_sav(frame, str(path))
    elif kind == "dta":
        pyreadstat.write_dta(frame, str(path))
    elif kind == "parquet":
        frame.to_parquet(path, index=False)
    return path


FORMATS = {
    "csv": ("data.csv", [2, 3, 4]),
    "tsv": ("data.tsv", [2, 3, 4]),
    "csv_eu": ("data_eu.csv", [2, 3, 4]),
    "xlsx": ("data.xlsx", [2, 3, 4]),
    "sav": ("data.sav", [1, 2, 3]),
    "dta": ("data.dta", [1, 2, 3]),
    "parquet": ("data.parquet", [0, 1, 2]),
}


@pytest.mark.parametrize("kind", sorted(FORMATS))
def test_round_trip_gives_the_canonical_frame(kind, long_frame, reference, tmp_path):
    name, first_rows = FORMATS[kind]
    path = _write(long_frame, tmp_path / name, kind)
    before = path.read_bytes()
    sd = load_sessions(path, **KW)
    pd.testing.assert_frame_equal(
        sd.data.drop(columns="source_row"), reference.drop(columns="source_row")
    )
    # the first patient's rows come first in the file, so source rows are the first ones
    assert sd.data["source_row"].head(3).tolist() == first_rows
    assert path.read_bytes() == before  # nothing written back
    assert sd.n_read == len(long_frame) and sd.n_dropped == 0


def test_str_and_path_sources_are_equivalent(long_frame, tmp_path):
    path = _write(long_frame, tmp_path / "d.csv", "csv")
    a = load_sessions(str(path), **KW).data
    b = load_sessions(path, **KW).data
    pd.testing.assert_frame_equal(a, b)


def test_canonical_columns_and_types(reference):
    assert reference.columns.tolist() == [
        "patient",
        "therapist",
        "session",
        "session_date",
        "days_since_first",
        "alliance",
        "alliance_bond",
        "pain",
        "function",
        "arm",
        "modality",
        "source_row",
    ]
    assert str(reference["patient"].dtype) == "Int64"
    assert str(reference["session"].dtype) == "Int64"
    assert reference["alliance"].dtype == np.float64
    assert isinstance(reference["arm"].dtype, pd.CategoricalDtype)
    assert reference["arm"].cat.categories.tolist() == ["control", "exercise"]
    # sorted by patient then session
    keys = list(zip(reference["patient"], reference["session"], strict=True))
    assert keys == sorted(keys)


def test_dataframe_source_rows_are_index_labels(long_frame):
    framed = long_frame.set_axis([f"r{i}" for i in range(len(long_frame))])
    framed["wai"] = framed["wai"].astype(object)
    framed.loc["r5", "wai"] = "high"
    with pytest.raises(DataValidationError) as err:
        load_sessions(framed, **KW)
    assert err.value.problems["row"].tolist() == ["r5"]
    assert err.value.problems["file"].tolist() == [None]


def test_delimiter_and_decimal_detection(long_frame, tmp_path):
    path = _write(long_frame, tmp_path / "eu.csv", "csv_eu")
    t = read_table(path)
    assert (t.delimiter, t.decimal) == (";", ",")
    t2 = read_table(_write(long_frame, tmp_path / "us.csv", "csv"))
    assert (t2.delimiter, t2.decimal) == (",", ".")


def test_explicit_delimiter_and_decimal(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("id|s|wai\n1|1|3,5\n1|2|4\n", encoding="utf-8")
    sd = load_sessions(path, patient="id", session="s", alliance="wai", delimiter="|", decimal=",")
    assert sd.data["alliance"].tolist() == [3.5, 4.0]


def test_decimal_comma_in_a_point_file_is_explained(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text("id;s;wai\n1;1;3.5\n1;2;4,5\n", encoding="utf-8")
    with pytest.raises(DataValidationError) as err:
        load_sessions(path, patient="id", session="s", alliance="wai")
    (reason,) = err.value.problems["reason"]
    assert "decimal comma" in reason and "decimal=','" in reason


def test_blank_lines_keep_their_row_numbers(tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text("id,s,wai\n1,1,3\n\n1,2,x\n,,\n", encoding="utf-8")
    with pytest.raises(DataValidationError) as err:
        load_sessions(path, patient="id", session="s", alliance="wai")
    assert err.value.problems["row"].tolist() == [4]
    sd = load_sessions(path, patient="id", session="s", alliance="wai", strict=False, warn=False)
    # the empty line 3 is skipped (not read); the trailing ",," line is not part of the table
    assert (sd.n_read, sd.n_kept, sd.n_dropped, sd.n_blank) == (2, 1, 1, 1)


def test_header_row_option(tmp_path):
    path = tmp_path / "title.csv"
    path.write_text("Study export 2024\n\nid,s,wai\n1,1,3\n1,2,y\n", encoding="utf-8")
    with pytest.raises(DataValidationError) as err:
        load_sessions(path, patient="id", session="s", alliance="wai", header_row=3)
    assert err.value.problems["row"].tolist() == [5]


def test_excel_sheet_choice_and_row_numbers(tmp_path):
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path) as xw:
        pd.DataFrame({"note": ["other sheet"]}).to_excel(xw, sheet_name="readme", index=False)
        pd.DataFrame({"id": [1, 1, 2], "s": [1, 2, 1], "wai": [3, "?", 4]}).to_excel(
            xw, sheet_name="sessions", index=False, startrow=2
        )
    kw = {"patient": "id", "session": "s", "alliance": "wai"}
    for sheet in ("sessions", 1):
        with pytest.raises(DataValidationError) as err:
            load_sessions(path, sheet=sheet, header_row=3, **kw)
        # header in Excel row 3, data rows 4-6: the "?" is in Excel row 5
        assert err.value.problems["row"].tolist() == [5]
        assert err.value.problems["value"].tolist() == ["?"]
    with pytest.raises(DataValidationError, match="no sheet 'visits'.*'readme', 'sessions'"):
        load_sessions(path, sheet="visits", **kw)


def test_unsupported_and_unsafe_files_are_refused(tmp_path):
    for name, hint in [("d.pkl", "pickle"), ("d.xls", "xlsx"), ("d.json", "supported")]:
        path = tmp_path / name
        path.write_bytes(b"\x80\x04")
        with pytest.raises(DataValidationError, match=hint):
            load_sessions(path, patient="id", session="s")
    with pytest.raises(DataValidationError, match="file not found"):
        load_sessions(tmp_path / "absent.csv", patient="id", session="s")
    with pytest.raises(TypeError, match="file path"):
        load_sessions(42, patient="id", session="s")


def test_spss_value_labels_become_categories_and_labels_are_kept(tmp_path):
    frame = pd.DataFrame(
        {
            "pid": [1.0, 1.0, 2.0],
            "visit": [1.0, 2.0, 1.0],
            "wai": [3.5, 4.0, 2.5],
            "arm": [1.0, 1.0, 2.0],
            "site": [2.0, 2.0, 1.0],
        }
    )
    for writer, name in [(pyreadstat.write_sav, "l.sav"), (pyreadstat.write_dta, "l.dta")]:
        path = tmp_path / name
        writer(
            frame,
            str(path),
            column_labels={
                "pid": "Patient number",
                "wai": "WAI-SR total (mean)",
                "arm": "Randomised arm",
            },
            variable_value_labels={
                "arm": {1: "control", 2: "exercise"},
                "site": {1: "Leeds", 2: "York"},
                "wai": {1: "not at all", 5: "completely"},
            },
        )
        sd = load_sessions(
            path, patient="pid", session="visit", alliance="wai", covariates=["arm", "site"]
        )
        arm = sd.data["arm"]
        assert isinstance(arm.dtype, pd.CategoricalDtype)
        assert arm.cat.categories.tolist() == ["control", "exercise"]  # code order
        assert arm.tolist() == ["control", "control", "exercise"]
        assert sd.data["site"].cat.categories.tolist() == ["Leeds", "York"]
        assert sd.variable_labels == {
            "patient": "Patient number",
            "alliance": "WAI-SR total (mean)",
            "arm": "Randomised arm",
        }
        assert sd.value_labels["arm"] == {1: "control", 2: "exercise"}
        # labels on a numeric score are metadata only: the scores stay numbers
        assert sd.data["alliance"].tolist() == [3.5, 4.0, 2.5]
        assert sd.value_labels["alliance"] == {1: "not at all", 5: "completely"}
        labels = dict(zip(sd.mapping["name"], sd.mapping["label"], strict=True))
        assert labels["alliance"] == "WAI-SR total (mean)"


def test_text_encodings(tmp_path):
    text = "id;visit;site\n1;1;Göteborg\n1;2;Malmö\n"
    for name, data in [
        ("bom.csv", b"\xef\xbb\xbf" + text.encode("utf-8")),  # Excel's "CSV UTF-8"
        ("win.csv", text.encode("cp1252")),  # Excel's plain "CSV" on Windows
    ]:
        path = tmp_path / name
        path.write_bytes(data)
        # a detected (not declared) encoding is said, so encoding= can confirm it
        sd = load_sessions(path, patient="id", session="visit", covariates="site", warn=False)
        assert sd.data["site"].tolist() == ["Göteborg", "Malmö"]
        assert any("decoded as cp1252" in n for n in sd.notes) is (name == "win.csv")
        assert read_table(path).frame.columns[0] == "id"  # no BOM left in the first name


BASE = pd.DataFrame(
    {"pid": [1, 1, 2, 2], "sess": [1, 2, 1, 2], "wai": [4.0, 4.5, 3.0, 3.5], "pain": [6, 5, 7, 6]}
)
ROLES = {"patient": "pid", "session": "sess", "alliance": "wai"}


@pytest.mark.parametrize(
    "dtypes",
    [
        {"pid": "Int64", "sess": "Int64", "wai": "Float64"},
        {"pid": "string[pyarrow]", "wai": "string[pyarrow]"},
        {"pid": "category", "sess": "category", "wai": "category"},
        {"pid": "str", "sess": "str", "wai": "str"},
    ],
)
def test_nullable_categorical_and_string_dtypes_load_to_the_same_frame(dtypes):
    expected = load_sessions(BASE, **ROLES).data
    got = load_sessions(BASE.astype(dtypes), **ROLES).data
    pd.testing.assert_frame_equal(got, expected)


def test_a_corrupt_parquet_file_is_a_file_format_error(tmp_path):
    # used to surface pyarrow's raw ArrowInvalid
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1" + b"\x00" * 64 + b"not parquet")
    with pytest.raises(FileFormatError, match="cannot read 'broken.parquet' as a Parquet"):
        load_sessions(path, patient="id", session="s")
