"""evaluate_signals(): accuracy of red signals for final failure, against R and by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from monitoring_reference import REF

from alliancestats import evaluate_signals, monitor
from alliancestats.errors import ParameterError
from alliancestats.monitoring.accuracy import accuracy_table, auc_delong

ACC = REF["accuracy"]


def test_accuracy_matches_binom_test_and_proc():
    truth = np.array(ACC["truth"], dtype=bool)
    score = np.array(ACC["score"])
    out = accuracy_table(truth, score > ACC["threshold"], score, level=0.95)
    for name in ("sensitivity", "specificity", "ppv", "npv"):
        est, low, high = ACC[name]
        # 1e-10: exact Clopper-Pearson limits, root-finding tolerance only
        assert out[name] == pytest.approx(est, abs=1e-12)
        assert out[f"{name}_ci_low"] == pytest.approx(low, abs=1e-10)
        assert out[f"{name}_ci_high"] == pytest.approx(high, abs=1e-10)
    assert out["auc"] == pytest.approx(ACC["auc"], abs=1e-12)  # a ratio of counts (with ties)
    assert out["auc_se"] ** 2 == pytest.approx(ACC["auc_var"], rel=1e-10)  # same closed form
    assert [out["auc_ci_low"], out["auc_ci_high"]] == pytest.approx(ACC["auc_ci95"], abs=1e-10)
    _, _, low90, high90 = auc_delong(score, truth, 0.90)
    assert [low90, high90] == pytest.approx(ACC["auc_ci90"], abs=1e-10)  # as above


def test_auc_is_the_mann_whitney_probability():
    rng = np.random.default_rng(1)
    truth = rng.random(60) < 0.3
    score = np.round(rng.normal(truth * 0.8, 1), 1)  # rounded: ties
    pos, neg = score[truth], score[~truth]
    pairs = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    assert auc_delong(score, truth, 0.95)[0] == pytest.approx(pairs.mean(), abs=1e-12)


def test_no_positives_gives_nan_not_an_error():
    out = accuracy_table(np.zeros(5, bool), np.array([1, 0, 0, 1, 0], bool), np.arange(5.0))
    assert np.isnan(out["sensitivity"]) and np.isnan(out["auc"])
    assert out["specificity"] == 0.6


@pytest.fixture(scope="module")
def table(pooled, halves):
    return monitor(halves[1], pooled, rci=14, rupture_method=None)


def _by_hand(table, k, rci):
    """Final non-response and the two rules at session k, written out with pandas."""
    t = table[table["phase"] == "treatment"].dropna(subset=["symptoms"])
    last = t.sort_values("session").groupby("patient").tail(1).set_index("patient")
    at_k = t[t["session"] == k].set_index("patient")
    at_k = at_k[at_k.index.isin(last.index[last["session"] > k])]
    failed = (last.loc[at_k.index, "baseline"] - last.loc[at_k.index, "symptoms"]) < rci
    red = at_k["signal"] == "red"
    rational = (at_k["symptoms"] - at_k["baseline"]) >= rci
    return failed, red, rational


@pytest.mark.parametrize("k", [3, 5])
def test_counts_match_a_hand_computation(table, k):
    ev = evaluate_signals(table, session=k).set_index("rule")
    failed, red, rational = _by_hand(table, k, 14)
    for rule, flag in (("empirical", red), ("rational", rational)):
        r = ev.loc[rule]
        assert r["n"] == len(failed) and r["n_failure"] == failed.sum()
        assert r["tp"] == (flag & failed).sum() and r["fp"] == (flag & ~failed).sum()
        assert r["fn"] == (~flag & failed).sum() and r["tn"] == (~flag & ~failed).sum()
        assert r["sensitivity"] == pytest.approx((flag & failed).sum() / failed.sum())


def test_several_sessions_deterioration_and_cumulative(table):
    ev = evaluate_signals(table, session=[3, 4, 5], criterion="deterioration", cumulative=True)
    assert ev["session"].tolist() == [3, 3, 4, 4, 5, 5]
    assert "deterioration" in ev.attrs["truth"] and ev.attrs["cumulative"] is True
    assert (ev["n_failure"] <= ev["n"]).all()
    assert "by session 3" in ev["definition"].iloc[0]


def test_given_truth_column(table):
    marked = table.assign(high=table.groupby("patient")["baseline"].transform("first") > 90)
    ev = evaluate_signals(marked, session=4, truth="high")
    assert ev.attrs["truth"] == "given truth"
    per = marked[(marked["session"] == 4) & marked["signal"].notna()]
    assert ev["n"].iloc[0] == per["patient"].nunique()
    assert ev["n_failure"].iloc[0] == per["high"].sum()


def test_errors(table):
    with pytest.raises(ParameterError, match="monitor"):
        evaluate_signals(pd.DataFrame({"a": [1]}), session=3)
    with pytest.raises(ParameterError, match="criterion"):
        evaluate_signals(table, session=3, criterion="relapse")


def test_without_rci_there_is_no_definition_of_failure(pooled, halves):
    plain = monitor(halves[1], pooled, rupture_method=None)
    with pytest.raises(ParameterError, match="rci="):
        evaluate_signals(plain, session=3)
    ev = evaluate_signals(plain, session=3, rci=14)
    assert ev["rule"].tolist() == ["empirical", "rational"]
