"""monitor(): outcome signals (white/green/yellow/red) with named rules, alliance alerts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from alliancestats import load_sessions, monitor, ruptures
from alliancestats.errors import ParameterError


@pytest.fixture(scope="module")
def table(pooled, halves):
    return monitor(halves[1], pooled, rci=14, cutoff=63, wai="wai_sr",
                   rupture_method="gumz2012")


def _hand_signal(row, cutoff, rci, yellow=0.5):
    """The documented rules, written out for one row (lower is better)."""
    if row["symptoms"] < cutoff and row["baseline"] - row["symptoms"] >= rci:
        return "white"
    if row["symptoms"] > row["band_high"]:
        return "red"
    if row["symptoms"] - row["expected"] >= yellow * (row["band_high"] - row["expected"]):
        return "yellow"
    return "green"


def test_signals_follow_the_documented_rules(table):
    judged = table[table["signal"].notna()]
    assert len(judged) == 1060 - table.loc[table["phase"] == "treatment", "symptoms"].isna().sum()
    hand = judged.apply(_hand_signal, axis=1, cutoff=63, rci=14)
    assert (judged["signal"].astype(str) == hand).all()
    assert set(hand) == {"white", "green", "yellow", "red"}  # every rule is exercised
    assert table.loc[table["phase"] == "intake", "signal"].isna().all()
    first_reason = judged["signal_reason"].str.split(":").str[0]
    assert (first_reason == judged["signal"].astype(str)).all()


def test_deviation_z_and_bound_columns(table):
    judged = table[table["signal"].notna()]
    # same arithmetic in another order: floating-point rounding only
    np.testing.assert_allclose(judged["deviation"], judged["symptoms"] - judged["expected"],
                               atol=1e-12)
    np.testing.assert_allclose(judged["z"], judged["deviation"] / judged["sd"], rtol=1e-12)
    assert (judged["bound"] == judged["band_high"]).all()
    np.testing.assert_allclose(judged["change"], judged["baseline"] - judged["symptoms"])


def test_red_share_on_the_reference_model_is_near_the_band_level(pooled, halves):
    m = monitor(halves[0], pooled)  # in-sample: the band is fitted on these patients
    judged = m[m["signal"].notna()]
    share = (judged["signal"] == "red").mean()
    n = len(judged)
    # one-sided 90% band: 10% beyond; 4 binomial SEs leave room for within-patient correlation
    assert abs(share - 0.1) < 4 * np.sqrt(0.09 / n)


def test_rules_table_names_every_threshold(table):
    rules = table.attrs["rules"].set_index("signal")["condition"]
    assert list(rules.index) == ["white", "green", "yellow", "red", "wai_drop_alert",
                                 "rupture_alert"]
    assert "63" in rules["white"] and "14" in rules["white"] and "given" in rules["white"]
    assert "0.5" in rules["yellow"] and "90%" in rules["red"]
    assert "gumz2012" in rules["rupture_alert"]
    assert table.attrs["cutoff"] == 63 and table.attrs["rci"] == 14
    assert table.attrs["direction"] == "lower_is_better"


def test_white_is_not_used_without_cutoff_and_rci(pooled, halves):
    m = monitor(halves[1], pooled)
    assert "white" not in set(m["signal"].dropna())
    assert "not used" in m.attrs["rules"].set_index("signal").loc["white", "condition"]


def test_instrument_defaults_are_named_as_unverified(pooled, halves):
    m = monitor(halves[1], pooled, instrument="oq45", cutoff=63)
    assert m.attrs["rci"] == 14.0
    assert "unverified" in m.attrs["rules"].set_index("signal").loc["white", "condition"]


def test_higher_is_better_flips_the_band_side():
    # an ORS-like score that should rise; a hand-made reference where it does
    rng = np.random.default_rng(5)
    n, k = 200, 6
    base = rng.normal(20, 5, n)
    slope = rng.normal(2, 0.5, n)
    rows = [(f"p{i}", s, base[i] + slope[i] * (s - 1) + rng.normal(0, 2))
            for i in range(n) for s in range(1, k + 1)]
    d = pd.DataFrame(rows, columns=["patient", "session", "ors"])
    from alliancestats import expected_response

    er = expected_response(d, "ors", time="linear")
    m = monitor(d, er, instrument="ors")
    assert m.attrs["direction"] == "higher_is_better" and m.attrs["cutoff"] == 25.0
    judged = m[m["signal"].notna()]
    red = judged["signal"] == "red"
    assert (judged.loc[red, "ors"] < judged.loc[red, "band_low"]).all()
    assert (judged["bound"] == judged["band_low"]).all()
    white = judged["signal"] == "white"
    assert (judged.loc[white, "ors"] >= 25).all()
    assert (judged.loc[white, "ors"] - judged.loc[white, "baseline"] >= 5).all()


def test_update_conditions_on_earlier_scores(pooled, halves):
    m = monitor(halves[1], pooled, update=True)
    assert m.attrs["update"] is True
    treat = m[m["phase"] == "treatment"]
    first = treat.groupby("patient")["n_prior"].transform("min")
    assert (first == 0).all()
    assert (treat["n_prior"] > 0).any()


def test_session_data_and_keep(pooled, halves):
    sd = load_sessions(halves[1], patient="patient", session="session", therapist="therapist",
                       outcomes="symptoms", alliance="wai_sr")
    m = monitor(sd, pooled, keep="therapist", rupture_method=None)
    assert "therapist" in m.columns
    assert len(m) == len(sd.data)


def test_bad_arguments(pooled, halves):
    with pytest.raises(ParameterError, match="expected_response"):
        monitor(halves[1], "model")
    with pytest.raises(ParameterError, match="contradicts"):
        monitor(halves[1], pooled, cutoff=63, cutoff_rule="<")
    with pytest.raises(ParameterError, match="yellow"):
        monitor(halves[1], pooled, yellow=1.5)


# ------------------------------------------------------------------ alliance alerts
def _one_patient(srs):
    return pd.DataFrame({"patient": "a", "session": range(1, len(srs) + 1), "srs": srs,
                         "oq": np.linspace(80, 60, len(srs))})


@pytest.mark.parametrize(("rule", "expected"), [("<", [False, True, False, False]),
                                                 ("<=", [False, True, True, False])])
def test_srs_cutoff_rule_is_explicit(pooled, rule, expected):
    d = _one_patient([38.0, 30.0, 36.0, 39.0]).rename(columns={"oq": "symptoms"})
    m = monitor(d, pooled, srs="srs", srs_rule=rule, rupture_method=None)
    assert m["srs_alert"].tolist() == expected
    cond = m.attrs["rules"].set_index("signal").loc["srs_alert", "condition"]
    assert f"srs {rule} 36" in cond and "Duncan" in cond


def test_wai_drop_alert_at_the_reliable_change(pooled):
    wai = [4.0, 4.1, 3.5, 3.6, 3.0, 3.05]
    d = _one_patient([38.0] * 6).rename(columns={"oq": "symptoms"}).assign(wai=wai)
    m = monitor(d, pooled, wai="wai", wai_rci=0.5, rupture_method=None)
    np.testing.assert_allclose(m["wai_drop"], [np.nan, -0.1, 0.6, -0.1, 0.6, -0.05])
    assert m["wai_drop_alert"].tolist() == [False, False, True, False, True, False]
    first = monitor(d, pooled, wai="wai", wai_rci=0.5, wai_drop_from="first",
                    rupture_method=None)
    np.testing.assert_allclose(first["wai_drop"], [np.nan, -0.1, 0.5, 0.4, 1.0, 0.95])
    assert first["alert_reason"].iloc[4] == "wai down 1.00"


def test_default_wai_rci_is_jacobson_truax_from_first_scores(pooled, halves):
    m = monitor(halves[1], pooled, wai="wai_sr", rupture_method=None)
    ref = halves[0].sort_values(["patient", "session"]).dropna(subset=["wai_sr"])
    sd = ref.groupby("patient")["wai_sr"].first().std(ddof=1)
    rc = stats.norm.ppf(0.975) * np.sqrt(2) * sd * np.sqrt(1 - 0.92)
    cond = m.attrs["rules"].set_index("signal").loc["wai_drop_alert", "condition"]
    assert f"{rc:.3f}" in cond and "reference" in cond
    flagged = m["wai_drop"] >= rc
    assert (m["wai_drop_alert"] == flagged).all()


def test_rupture_alerts_use_only_sessions_so_far(table, halves):
    sd = halves[0]["wai_sr"].std(ddof=1)
    full = ruptures(halves[1], "wai_sr", method="gumz2012", sd=sd)
    full = full[full["event"] == "rupture"]
    seen = table.dropna(subset=["rupture_session"])
    # every rupture in the complete series is shown at some session (as new, or already
    # repaired when the rule needs the sessions after the trough to see it) ...
    shown = set(zip(seen["patient"], seen["rupture_session"].astype(int), strict=True))
    complete = set(zip(full["patient"], full["trough_session"].astype(int), strict=True))
    assert complete <= shown and len(complete) == 116
    # ... and never before its trough was observed
    assert (seen["session"] >= seen["rupture_session"]).all()
    assert (seen["rupture_alert"] == seen["rupture_status"].isin(["new", "open",
                                                                 "unrepaired"])).all()
    assert (table["alliance_alert"] == table[["wai_drop_alert", "rupture_alert"]].any(axis=1)
            ).all()
