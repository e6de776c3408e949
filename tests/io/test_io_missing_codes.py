"""Missing-value codes: one shared list, replaceable, and never applied without a trace."""

from __future__ import annotations

import pandas as pd
import pytest

from alliancestats._validation import MISSING_CODES, numeric_column
from alliancestats.errors import DataValidationError
from alliancestats.io import load_sessions
from alliancestats.io.missing import MissingCodes

FRAME = pd.DataFrame(
    {"id": [1, 1, 2], "s": [1, 2, 1], "med": ["None", "ibuprofen", "None"], "pain": [3, 4, "NA"]}
)
KW = {"patient": "id", "session": "s", "covariates": "med", "outcomes": "pain"}


def test_the_loader_uses_the_shared_list_of_codes():
    assert MissingCodes().texts == frozenset(MISSING_CODES)
    # the loader and the numeric column check read the same texts as missing
    cells = pd.DataFrame({"x": [*MISSING_CODES, "2"]})
    assert numeric_column(cells, "x", "f").isna().sum() == len(MISSING_CODES)
    sd = load_sessions(
        pd.DataFrame({"id": 1, "s": range(1, len(MISSING_CODES) + 2), "x": cells["x"]}),
        patient="id",
        session="s",
        outcomes="x",
    )
    assert sd.data["x"].isna().sum() == len(MISSING_CODES)


def test_text_none_becoming_missing_is_reported_in_the_summary():
    # "None" (no medication) used to vanish into NaN with no trace
    sd = load_sessions(FRAME, **KW)
    codes = sd.missing_codes
    assert codes[codes["column"] == "med"][["code", "cells"]].values.tolist() == [["None", 2]]
    text = str(sd.summary())
    assert "missing-value code" in text and "'None' x2 in 'med'" in text


def test_na_values_replace_the_default_codes_with_keep_default_na_false():
    sd = load_sessions(FRAME, **KW, na_values=["NA"], keep_default_na=False)
    assert sd.data["med"].tolist() == ["None", "ibuprofen", "None"]
    assert sd.data["pain"].isna().tolist() == [False, False, True]
    # by default na_values extend the codes
    sd = load_sessions(FRAME, **KW, na_values=["ibuprofen"])
    assert sd.data["med"].isna().all()


def test_without_codes_a_code_text_is_just_text_or_a_problem():
    with pytest.raises(DataValidationError) as err:
        load_sessions(FRAME, **KW, keep_default_na=False)
    assert err.value.problems[["value", "kind"]].values.tolist() == [["NA", "not_numeric"]]


def test_empty_cells_are_always_missing(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("id,s,pain\n1,1,\n1,2,  \n1,3,5\n", encoding="utf-8")
    sd = load_sessions(path, patient="id", session="s", outcomes="pain", keep_default_na=False)
    assert sd.data["pain"].isna().tolist() == [True, True, False]
