"""Text and boolean binomial responses, as R's binomial family reads them (first level =
failure), from DataFrames and from CSV, Excel and SPSS files."""

from __future__ import annotations

import warnings
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import alliancestats as als
from alliancestats.errors import AllianceStatsWarning, DataValidationError
from alliancestats.models.binary_response import binary_levels, code_binary_response

DATA = Path(__file__).resolve().parents[1] / "reference" / "glmm" / "data" / "adherence.csv"
FORMULA = "status ~ session + alliance_within + (1 | patient)"


@cache
def adherence() -> pd.DataFrame:
    d = pd.read_csv(DATA)
    d.loc[[3, 40], "adhered"] = np.nan  # two missing responses: dropped and reported
    return d


def fit(data: pd.DataFrame):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllianceStatsWarning)
        return als.glmm(FORMULA, data, family="binomial")


@cache
def numeric_fit():
    return fit(adherence().assign(status=adherence()["adhered"]))


def as_text(yes: str = "yes", no: str = "no") -> pd.Series:
    a = adherence()["adhered"]
    return pd.Series(np.where(a.isna(), None, np.where(a == 1, yes, no)), dtype=object)


def same_fit(m) -> None:
    ref = numeric_fit()
    # identical data after coding: the optimiser follows the same path
    np.testing.assert_allclose(m.fixed["estimate"], ref.fixed["estimate"], rtol=1e-8)
    assert m.nobs == ref.nobs == len(adherence()) - 2


@pytest.mark.parametrize(
    "status, success",
    [
        pytest.param(as_text(), "yes", id="yes/no object"),
        pytest.param(as_text("Y", "N").astype("string"), "Y", id="Y/N string dtype"),
        pytest.param(as_text("Yes", "no").astype("string[pyarrow]"), "Yes", id="Yes/no arrow"),
        pytest.param(as_text("TRUE", "FALSE"), "TRUE", id="TRUE/FALSE text"),
        pytest.param(as_text().map({"yes": True, "no": False}), "TRUE", id="bool object"),
        pytest.param(as_text().map({"yes": True, "no": False}).astype("boolean"), "TRUE",
                     id="nullable boolean"),
    ],
)  # fmt: skip
def test_text_and_boolean_responses_from_dataframes(status, success):
    m = fit(adherence().assign(status=status.to_numpy()))
    same_fit(m)
    assert f"{success!r} counts as success (1)" in m.summary()


def test_categorical_order_chooses_the_success_level():
    cat = pd.Categorical(as_text(), categories=["yes", "no"])  # "no" is success here
    m = fit(adherence().assign(status=cat))
    np.testing.assert_allclose(
        m.fixed["estimate"], -numeric_fit().fixed["estimate"], rtol=1e-6, atol=1e-8
    )  # flipping the outcome flips every logit coefficient; the optimiser path differs
    assert "'no' counts as success (1), 'yes' as failure (0)" in m.summary()


def test_numpy_booleans_are_one_for_true():
    d = adherence().dropna(subset=["adhered"])
    m = fit(d.assign(status=d["adhered"] == 1))
    ref = fit(d.assign(status=d["adhered"]))
    np.testing.assert_allclose(m.fixed["estimate"], ref.fixed["estimate"], rtol=1e-8)
    assert "'TRUE' counts as success" in m.summary()


def _session_frame(tmp: Path, kind: str) -> pd.DataFrame:
    d = adherence().assign(status=as_text("Y", "N").to_numpy())
    cols = ["patient", "therapist", "session", "alliance_within", "status"]
    if kind == "csv":
        d[cols].to_csv(tmp / "a.csv", index=False)
        return pd.read_csv(tmp / "a.csv")
    if kind == "excel":
        d[cols].to_excel(tmp / "a.xlsx", index=False)
        return pd.read_excel(tmp / "a.xlsx")
    if kind == "excel bool":  # TRUE/FALSE cells with blanks: pandas reads 1.0/0.0/NaN
        d = d.assign(status=d["status"].map({"Y": True, "N": False}))
        d[cols].to_excel(tmp / "b.xlsx", index=False)
        return pd.read_excel(tmp / "b.xlsx")
    import pyreadstat

    if kind == "spss labels":  # numeric 0/1 with value labels: read as a categorical
        coded = d.assign(status=d["status"].map({"N": 0.0, "Y": 1.0}))
        pyreadstat.write_sav(
            coded[cols], tmp / "a.sav", variable_value_labels={"status": {0.0: "N", 1.0: "Y"}}
        )
    else:  # an SPSS string variable: missing values come back as empty text
        pyreadstat.write_sav(d[cols], tmp / "a.sav")
    return pd.read_spss(tmp / "a.sav")


@pytest.mark.parametrize("kind", ["csv", "excel", "excel bool", "spss labels", "spss string"])
def test_text_and_boolean_responses_from_files(kind, tmp_path):
    d = _session_frame(tmp_path, kind)
    m = fit(d)
    same_fit(m)
    if kind != "excel bool":
        assert "'Y' counts as success (1), 'N' as failure (0)" in m.summary()


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".sav"])
def test_text_responses_through_load_sessions(suffix, tmp_path):
    d = adherence().assign(status=as_text("Y", "N").to_numpy())
    path = tmp_path / f"a{suffix}"
    cols = ["patient", "therapist", "session", "alliance_within", "status"]
    if suffix == ".csv":
        d[cols].to_csv(path, index=False)
    elif suffix == ".xlsx":
        d[cols].to_excel(path, index=False)
    else:
        import pyreadstat

        pyreadstat.write_sav(d[cols], path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllianceStatsWarning)
        s = als.load_sessions(
            path, patient="patient", session="session", therapist="therapist",
            covariates=["alliance_within", "status"], strict=False,
        )  # fmt: skip
    same_fit(fit(s.data))


def test_gee_reads_text_responses():
    d = adherence().dropna(subset=["adhered"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllianceStatsWarning)
        text = als.gee("s ~ session", d.assign(s=as_text().dropna().to_numpy()), groups="patient")
        ref = als.gee("s ~ session", d.assign(s=d["adhered"]), groups="patient")
    np.testing.assert_allclose(text.fixed["estimate"], ref.fixed["estimate"], rtol=1e-10)


@pytest.mark.parametrize(
    "values, message",
    [
        (["a", "b", "c"], "the values \\['a', 'b', 'c'\\]"),
        (["yes", "yes"], "only the value 'yes'"),
        (["yes", "no ", "no"], "the values \\['no', 'no ', 'yes'\\]"),
        ([True, "yes"], "mixes text with \\['bool'\\]"),
    ],
)
def test_ambiguous_responses_are_refused(values, message):
    with pytest.raises(DataValidationError, match=message):
        binary_levels(pd.Series(values, dtype=object), "y")


def test_text_response_is_refused_for_counts():
    d = pd.DataFrame({"y": ["a", "b"], "x": [1.0, 2.0]})
    with pytest.raises(DataValidationError, match="only for the binomial family"):
        code_binary_response(d, "y ~ x", "poisson")
    kept, coding = code_binary_response(d.assign(y=[True, False]), "y ~ x", "poisson")
    assert coding is None and kept["y"].dtype == bool  # TRUE/FALSE counts stay 1/0


def test_levels_sort_like_r_ignoring_case():
    levels, codes = binary_levels(pd.Series(["Yes", "no", None, " "]), "y")
    assert levels == ["no", "Yes"]
    np.testing.assert_array_equal(codes, [1.0, 0.0, np.nan, np.nan])
