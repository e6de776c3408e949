"""Patient and therapist IDs are read exactly as written, by one rule that ignores other rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from alliancestats.errors import DataValidationError
from alliancestats.io import load_sessions

BIG = [2**53 + 1, 2**53 + 3, 2**62 + 7]  # distinct integers that float64 cannot tell apart


def _load(source, **kw):
    return load_sessions(source, patient="id", session="s", **kw)


def test_integer_ids_above_2_53_stay_distinct_from_csv(tmp_path):
    # int(float(x)) used to merge 9007199254740993 into 9007199254740992
    path = tmp_path / "big.csv"
    path.write_text("id,s\n" + "".join(f"{i},1\n" for i in BIG), encoding="utf-8")
    sd = _load(path)
    assert sd.n_patients == 3
    assert sd.data["patient"].tolist() == BIG


def test_integer_ids_above_2_53_stay_distinct_from_a_dataframe_and_parquet(tmp_path):
    frame = pd.DataFrame({"id": np.array(BIG, dtype=np.int64), "s": [1, 1, 1]})
    assert _load(frame).data["patient"].tolist() == BIG
    obj = pd.DataFrame({"id": pd.Series(BIG, dtype=object), "s": [1, 1, 1]})
    assert _load(obj).data["patient"].tolist() == BIG
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table({"id": pa.array(BIG, pa.int64()), "s": [1, 1, 1]}), path)
    assert _load(path).data["patient"].tolist() == BIG
    huge = pd.DataFrame({"id": pd.Series([2**64 - 1, 2**64 - 2], dtype="uint64"), "s": [1, 1]})
    assert _load(huge).data["patient"].tolist() == [str(2**64 - 2), str(2**64 - 1)]


def test_ids_longer_than_64_bits_are_kept_as_text(tmp_path):
    path = tmp_path / "longer.csv"
    path.write_text("id,s\n123456789012345678901234567890,1\n123456789012345678901234567891,1\n")
    assert _load(path).data["patient"].tolist() == [
        "123456789012345678901234567890",
        "123456789012345678901234567891",
    ]


def test_float_ids_above_2_53_are_reported():
    frame = pd.DataFrame({"id": [float(2**60), 7.0], "s": [1, 1]})
    with pytest.raises(DataValidationError) as err:
        _load(frame)
    assert err.value.problems["kind"].tolist() == ["imprecise_id"]


@pytest.mark.parametrize(
    "ids",
    [["1", "1.0"], ["1", "001"], ["7", "+7"], ["1", "001", "P3"], ["1.0", "1", "2", "3"]],
)
def test_ids_differing_only_in_formatting_are_reported(ids):
    # "1" and "1.0" used to merge or stay apart depending on the other IDs in the file
    frame = pd.DataFrame({"id": ids, "s": range(1, len(ids) + 1)})
    with pytest.raises(DataValidationError) as err:
        _load(frame)
    assert set(err.value.problems["kind"]) == {"id_format"}
    assert "normalize_ids=True" in err.value.problems["reason"][0]


def test_the_id_rule_does_not_depend_on_other_rows():
    # "12" and "12.0" used to merge when all IDs were numbers and stay apart otherwise
    for ids in (["12", "12.0"], ["12", "12.0", "P9"]):
        frame = pd.DataFrame({"id": ids, "s": 1})
        sd = _load(frame, strict=False, warn=False)
        assert sd.dropped["value"].tolist() == ["12", "12.0"]
        assert set(sd.dropped["kind"]) == {"id_format"}
    alone = _load(pd.DataFrame({"id": ["007", "12"], "s": [1, 1]})).data["patient"]
    mixed = _load(pd.DataFrame({"id": ["007", "12", "P9"], "s": [1, 1, 1]})).data["patient"]
    assert alone.tolist() == ["007", "12"]
    assert mixed.tolist() == ["007", "12", "P9"]


def test_normalize_ids_reads_whole_numbers_as_numbers():
    frame = pd.DataFrame({"id": ["1", "1.0", "001", "2"], "s": [1, 2, 3, 1]})
    sd = _load(frame, normalize_ids=True)
    assert str(sd.data["patient"].dtype) == "Int64"
    assert sd.data["patient"].tolist() == [1, 1, 1, 2]


def test_numbers_stored_as_numbers_are_the_same_id_as_their_text():
    for ids in ([101.0, 101.0], [101, "101"], ["101", " 101"]):
        frame = pd.DataFrame({"id": ids, "s": [1, 2]})
        patient = _load(frame).data["patient"]
        assert str(patient.dtype) == "Int64" and patient.tolist() == [101, 101]
    frame = pd.DataFrame({"id": ["007", " 007 "], "s": [1, 2]})
    assert _load(frame).data["patient"].tolist() == ["007", "007"]


@pytest.mark.parametrize("code", ["NA", "None", "n/a"])
def test_an_id_that_is_a_missing_code_is_reported_as_such(code, tmp_path):
    path = tmp_path / "codes.csv"
    path.write_text(f"id,s\n{code},1\n,2\n", encoding="utf-8")
    with pytest.raises(DataValidationError) as err:
        _load(path)
    reasons = err.value.problems["reason"].tolist()
    assert f"patient ID is {code!r}, which is read as missing" in reasons[0]
    assert reasons[1].startswith("patient ID is empty")
    # with the default codes dropped, "NA" is an ID like any other
    sd = _load(path, keep_default_na=False, strict=False, warn=False)
    assert sd.data["patient"].tolist() == [code]
