"""Clopper-Pearson intervals and the t-test power formula against base R.

Reference: tests/reference/power/power_reference.R (R 4.2.2 binom.test, pt/qt).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alliancestats.errors import ParameterError
from alliancestats.power import clopper_pearson
from alliancestats.power.analytic import power_from_se

REF = json.loads((Path(__file__).resolve().parents[1] / "reference" / "power"
                  / "power_reference.json").read_text())


def test_reference_sets_are_complete():
    assert len(REF["clopper_pearson"]) == 6
    assert len(REF["t_power"]) == 6


def test_simr_constant_nine_of_ten():
    # simr's test-suite constant (binom.test(9, 10)), printed to 6 decimals
    low, high = clopper_pearson(9, 10)
    assert low == pytest.approx(0.554984, abs=1e-6)
    assert high == pytest.approx(0.997471, abs=1e-6)


@pytest.mark.parametrize("case", REF["clopper_pearson"],
                         ids=[f"{c['successes']}of{c['trials']}" for c in REF["clopper_pearson"]])
def test_clopper_pearson_matches_binom_test(case):
    low, high = clopper_pearson(int(case["successes"]), int(case["trials"]), case["level"])
    # both are beta quantiles; R and scipy agree to root-finding precision
    assert low == pytest.approx(case["low"], abs=1e-10)
    assert high == pytest.approx(case["high"], abs=1e-10)


@pytest.mark.parametrize("case", REF["t_power"], ids=[str(c["df"]) for c in REF["t_power"]])
def test_noncentral_t_power_matches_r(case):
    got = power_from_se(case["ncp"], 1.0, case["df"], case["alpha"])
    # scipy's noncentral t (boost) vs R's pnt (AS 243): both accurate to ~1e-9 here
    assert got == pytest.approx(case["power"], abs=1e-8)


def test_ends_are_exact_zero_and_one():
    assert clopper_pearson(0, 7)[0] == 0.0
    assert clopper_pearson(7, 7)[1] == 1.0


@pytest.mark.parametrize("k,n", [(5, 4), (-1, 4), (1, 0), (1.5, 4)])
def test_bad_counts(k, n):
    with pytest.raises(ParameterError):
        clopper_pearson(k, n)
