"""Worked scoring examples per instrument (numbers computed by hand from the published rules)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import alliancestats as als
from alliancestats.errors import InstrumentError
from alliancestats.instruments import UnverifiedKeyWarning, check_items, score

EXACT = 1e-12  # scores are a few additions and one division: only rounding error allowed


# ---------------------------------------------------------------- ODI / NDI


def test_odi_worked_examples():
    items = pd.DataFrame(
        [
            [2, 1, 3, 2, 1, 2, 1, 2, 1, 1],  # 16 / 50 -> 32.0
            [2, 1, 3, 2, 1, 2, 1, 2, 2, None],  # 16 / 45 -> 35.56
            [2, 1, 3, 2, 1, 2, 1, None, 2, None],  # two sections missing
            [0] * 10,
            [5] * 10,
        ],
        index=["a", "b", "c", "d", "e"],
    )
    res = score("odi", items)
    assert res.loc["a", "total"] == pytest.approx(32.0, abs=EXACT)
    assert res.loc["b", "total"] == pytest.approx(35.555555555555557, abs=EXACT)
    assert round(res.loc["b", "total"], 2) == 35.56
    assert np.isnan(res.loc["c", "total"])
    assert res.loc["c", "reason"] == "2 items missing (at most 1 allowed)"
    assert res.loc["d", "total"] == 0 and res.loc["e", "total"] == 100
    assert res["n_missing"].tolist() == [0, 1, 2, 0, 0]
    assert res.loc["a", "reason"] is None
    relaxed = score("odi", items, max_missing=2)
    assert relaxed.loc["c", "total"] == pytest.approx(14 / 40 * 100, abs=EXACT)


def test_ndi_same_denominator_rule():
    items = pd.DataFrame([[2, 1, 3, 2, 1, 2, 1, 2, 1, 1], [2, 1, 3, 2, 1, 2, 1, 2, 2, None]])
    res = score("ndi", items)
    assert res["total"].tolist() == pytest.approx([16.0, 17.777777777777779], abs=EXACT)
    assert res["percent"].tolist() == pytest.approx([32.0, 35.555555555555557], abs=EXACT)


# ---------------------------------------------------------------- QuickDASH


def test_quickdash_rule():
    items = pd.DataFrame(
        [
            [1] * 11,  # 0
            [5] * 11,  # 100
            [2] * 9 + [3, None],  # sum 21 over 10 answered: (2.1 - 1) x 25 = 27.5
            [3] * 9 + [None, None],  # two missing: not computable
        ]
    )
    res = score("quickdash", items)
    assert res["total"].iloc[:3].tolist() == pytest.approx([0.0, 100.0, 27.5], abs=EXACT)
    assert np.isnan(res["total"].iloc[3])
    assert "2 items missing (at most 1 allowed)" == res["reason"].iloc[3]


# ---------------------------------------------------------------- SRS


def test_srs_total_and_cutoff_options():
    items = pd.DataFrame([[9, 9, 9, 9], [8.5, 9, 9, 9], [10, 10, 10, 10], [9, 9, None, 9]])
    strict = score("srs", items)
    assert strict["total"].iloc[:3].tolist() == pytest.approx([36.0, 35.5, 40.0], abs=EXACT)
    assert strict["below_cutoff"].iloc[:3].tolist() == [False, True, False]
    assert strict["below_cutoff"].isna().iloc[3]  # no total, no classification
    inclusive = score("srs", items, cutoff_inclusive=True)
    assert inclusive["below_cutoff"].iloc[:3].tolist() == [True, True, False]
    assert str(strict["below_cutoff"].dtype) == "boolean"


# ---------------------------------------------------------------- WAI-SR / WAI / WAI-S


WAI_ROW = [4, 5, 3, 4, 4, 4, 3, 5, 3, 4, 4, 5]


def test_wai_sr_subscales_mean_and_sum():
    res = score("wai_sr", pd.DataFrame([WAI_ROW]))
    # task = items 1, 2, 10, 12 = 4, 5, 4, 5; goal = 4, 6, 8, 11 = 4, 4, 5, 4;
    # bond = 3, 5, 7, 9 = 3, 4, 3, 3
    assert res[["total", "task", "goal", "bond"]].iloc[0].tolist() == pytest.approx(
        [4.0, 4.5, 4.25, 3.25], abs=EXACT
    )
    summed = score("wai_sr", pd.DataFrame([WAI_ROW]), scale="sum")
    assert summed[["total", "task", "goal", "bond"]].iloc[0].tolist() == [48, 18, 17, 13]
    assert summed.attrs["score_range"] == (12.0, 60.0)
    assert res.attrs["score_range"] == (1.0, 5.0)


def test_wai_sr_missing_item_and_columns_mapping():
    wide = pd.DataFrame([WAI_ROW + [99]], columns=[f"q{i}" for i in range(1, 13)] + ["age"])
    by_list = score("wai_sr", wide, columns=[f"q{i}" for i in range(1, 13)])
    by_map = score("wai_sr", wide, columns={i: f"q{i}" for i in range(12, 0, -1)})
    pd.testing.assert_frame_equal(by_list, by_map)
    assert by_list["total"].item() == 4.0
    with pytest.raises(InstrumentError, match="has 12 items but 13 columns"):
        score("wai_sr", wide)
    row = list(WAI_ROW)
    row[0] = None  # item 1 (task) missing
    res = score("wai_sr", pd.DataFrame([row]))
    assert np.isnan(res["total"].item()) and np.isnan(res["task"].item())
    assert res["goal"].item() == 4.25  # other subscales are complete
    prorated = score("wai_sr", pd.DataFrame([row]), max_missing=1)
    assert prorated["total"].item() == pytest.approx(44 / 11, abs=EXACT)
    assert prorated["task"].item() == pytest.approx(14 / 3, abs=EXACT)
    prorated_sum = score("wai_sr", pd.DataFrame([row]), max_missing=1, scale="sum")
    assert prorated_sum["total"].item() == pytest.approx(44 / 11 * 12, abs=EXACT)


def test_mapping_of_item_numbers_to_values():
    res = score("wai_sr", {i + 1: [v] for i, v in enumerate(WAI_ROW)})
    assert res["total"].item() == 4.0
    with pytest.raises(InstrumentError, match="has items 1..12"):
        score("wai_sr", {1: [4], 2: [5]})


def test_wai_and_wai_s_require_key():
    items = pd.DataFrame([[4] * 36])
    with pytest.raises(InstrumentError, match="user-supplied key"):
        score("wai", items)
    with pytest.raises(InstrumentError, match="user-supplied key"):
        score("wai_s", pd.DataFrame([[4] * 12]))
    with pytest.raises(InstrumentError, match="reverse_items' explicitly"):
        score("wai", items, key={"subscales": {"goal": range(1, 13)}})
    key = {
        "reverse_items": [1, 2],
        "subscales": {"goal": range(1, 13), "task": range(13, 25), "bond": range(25, 37)},
    }
    row = [1, 7] + [4] * 34  # reversed: 7, 1 -> goal mean (7 + 1 + 10 x 4) / 12 = 4
    res = score("wai", pd.DataFrame([row]), key=key)
    assert res[["total", "goal", "task", "bond"]].iloc[0].tolist() == [4.0, 4.0, 4.0, 4.0]
    res = score("wai", pd.DataFrame([[2] + [4] * 35]), key=key)
    assert res["goal"].item() == pytest.approx((6 + 11 * 4) / 12, abs=EXACT)
    with pytest.raises(InstrumentError, match="outside 1..12"):
        score(
            "wai_s", pd.DataFrame([[4] * 12]), key={"reverse_items": [], "subscales": {"g": [13]}}
        )
    with pytest.raises(InstrumentError, match="unknown key entries"):
        score("wai_s", pd.DataFrame([[4] * 12]), key={"reverse_items": [], "bogus": 1})


# ---------------------------------------------------------------- HAq-II


def test_haq_ii_reversal_seven_minus_x():
    row = [1] * 19  # reverse items 4, 8, 11, 16, 19 become 7 - 1 = 6
    with pytest.warns(UnverifiedKeyWarning, match="unverified key") as record:
        res = score("haq_ii", pd.DataFrame([row]))
    assert record[0].filename == __file__  # points at the caller's line
    assert res["total"].item() == pytest.approx(44 / 19, abs=EXACT)
    assert res.attrs["reverse_items"] == (4, 8, 11, 16, 19)
    key = {"reverse_items": [4, 8, 11, 16, 19]}  # explicit key: confirmed, no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert score("haq_ii", pd.DataFrame([row]), scale="sum", key=key)["total"].item() == 44
    row2 = [3] * 19
    row2[3] = 5  # item 4 -> 7 - 5 = 2; the other four reverse items 3 -> 4
    summed = score("haq_ii", pd.DataFrame([row2]), scale="sum", key=key)
    assert summed["total"].item() == 14 * 3 + 4 * 4 + 2
    # unverified key is overridable
    no_reverse = score("haq_ii", pd.DataFrame([row]), key={"reverse_items": []})
    assert no_reverse["total"].item() == 1.0


# ---------------------------------------------------------------- RMDQ


def test_rmdq_blank_means_no():
    rows = [
        [1, 1, 1] + [None] * 21,  # checklist: 3 ticked, rest blank
        ["yes", "no", "", "Y"] + [0] * 20,
        [None] * 24,  # nothing at all: not an administration
        [True, False] + [False] * 22,
    ]
    res = score("rmdq", pd.DataFrame(rows, dtype=object))
    assert res["total"].iloc[[0, 1, 3]].tolist() == [3.0, 2.0, 1.0]
    assert res["n_missing"].tolist() == [21, 1, 24, 0]
    assert np.isnan(res["total"].iloc[2]) and res["reason"].iloc[2] == "no items answered"
    strict = score("rmdq", pd.DataFrame(rows, dtype=object), blank_as_no=False)
    assert np.isnan(strict["total"].iloc[0]) and strict["total"].iloc[3] == 1.0
    assert score("rmdq_18", pd.DataFrame([[1] * 18]))["total"].item() == 18
    assert score("rmdq_11", pd.DataFrame([[1] * 5 + [0] * 6]))["total"].item() == 5


# ---------------------------------------------------------------- PSFS


def test_psfs_mean_of_rated_activities():
    items = pd.DataFrame(
        [[3, 4, 5, None, None], [2, 4, 6, 8, 10], [3, 4, None, None, None]],
        columns=["act1", "act2", "act3", "act4", "act5"],
    )
    res = score("psfs", items)
    assert res["total"].iloc[:2].tolist() == [4.0, 6.0]
    assert np.isnan(res["total"].iloc[2])
    assert res["reason"].iloc[2] == "2 rated activities (at least 3 required)"
    assert score("psfs", items, min_answered=2)["total"].iloc[2] == 3.5
    assert score("psfs", items.iloc[:, :3])["total"].iloc[0] == 4.0
    with pytest.raises(InstrumentError, match="at least 3 rated"):
        score("psfs", items.iloc[:, :2])
    with pytest.raises(InstrumentError, match="1 to 5 item columns"):
        score("psfs", pd.concat([items, items], axis=1).set_axis(list("abcdefghij"), axis=1))
    with pytest.raises(InstrumentError, match="scale='sum'"):
        score("psfs", items, scale="sum")


# ---------------------------------------------------------------- single items, EARS, ratios


def test_single_items_and_flags():
    res, problems = score(
        "nrs", pd.Series([3, 11, 3.5, -1, None], name="pain"), return_problems=True
    )
    assert res["total"].iloc[0] == 3
    assert res["total"].iloc[1:].isna().all()
    assert res["n_invalid"].tolist() == [0, 1, 1, 1, 0]
    assert res["reason"].iloc[4] == "no items answered"
    assert problems["row"].tolist() == [1, 2, 3]
    assert problems["reason"].tolist() == [
        "out of range [0, 10]",
        "not a whole number (pass allow_fractional=True to accept)",
        "out of range [0, 10]",
    ]
    assert score("nrs", pd.Series([3.5]), allow_fractional=True)["total"].item() == 3.5
    assert score("vas", pd.Series([37.5]))["total"].item() == 37.5
    assert score("gpe", pd.Series([-5, 5]))["total"].tolist() == [-5, 5]


def test_ears_requires_key_and_sums():
    items = pd.DataFrame([[4, 4, 0, 4, 4, 4]])
    with pytest.raises(InstrumentError, match="user-supplied key"):
        score("ears", items)
    assert score("ears", items, key={"reverse_items": [3]})["total"].item() == 24
    assert score("ears", items, key={"reverse_items": []})["total"].item() == 20


def test_attendance_and_adherence_ratios():
    items = pd.DataFrame({"attended": [3, 5, 2, 4], "scheduled": [4, 4, 0, None]})
    res, problems = score("attendance", items, return_problems=True)
    assert res["total"].iloc[0] == 0.75
    assert res["total"].iloc[1:].isna().all()
    assert problems["reason"].tolist() == [
        "exceeds item 2 (4)",
        "is 0 (nothing scheduled or prescribed)",
    ]
    assert res["reason"].iloc[3] == "1 item missing (at most 0 allowed)"
    done = score("exercise_adherence", pd.DataFrame([[2, 3]]))["total"].item()
    assert done == pytest.approx(2 / 3, abs=EXACT)
    assert score("exercise_adherence_yn", pd.Series(["yes", "no"]))["total"].tolist() == [1, 0]


# ---------------------------------------------------------------- invalid input handling


def test_non_numeric_values_are_flagged_not_scored():
    items = pd.DataFrame([WAI_ROW, WAI_ROW], index=["s1", "s2"]).astype(object)
    items.iloc[1, 4] = "often"
    res, problems = score("wai_sr", items, return_problems=True)
    assert res.loc["s1", "total"] == 4.0
    assert np.isnan(res.loc["s2", ["total", "task", "goal", "bond"]].astype(float)).all()
    assert problems.to_dict("records") == [
        {"row": "s2", "column": 4, "item": 5, "value": "often", "reason": "not numeric"}
    ]
    assert res.loc["s2", "reason"] == "invalid item values: item 5 (4) not numeric"
    pd.testing.assert_frame_equal(check_items("wai_sr", items), problems)


def test_string_dtype_and_duplicate_index():
    items = pd.DataFrame([[str(v) for v in WAI_ROW]] * 2, index=[7, 7], dtype="str")
    res = score("wai_sr", items)
    assert res["total"].tolist() == [4.0, 4.0]
    assert list(res.index) == [7, 7]


def test_bad_arguments():
    with pytest.raises(InstrumentError, match="DataFrame"):
        score("odi", [[1, 2, 3]])
    with pytest.raises(InstrumentError, match="scale must be"):
        score("wai_sr", pd.DataFrame([WAI_ROW]), scale="median")
    with pytest.raises(InstrumentError, match="max_missing"):
        score("odi", pd.DataFrame([[1] * 10]), max_missing=-1)
    with pytest.raises(InstrumentError, match="columns not found"):
        score("odi", pd.DataFrame([[1] * 10]), columns=["x"] * 10)
    with pytest.raises(InstrumentError, match="duplicate item columns"):
        score("nrs", pd.DataFrame([[1, 2]], columns=["p", "p"]))
    with pytest.raises(InstrumentError, match="unknown instrument"):
        score("oswestry", pd.DataFrame([[1] * 10]))


def test_top_level_exports():
    assert als.score is score
    assert als.instruments().shape[0] >= 19


# --------------------------------------------------------------------------- item order


WAI_ROW = [4, 5, 3, 4, 4, 4, 3, 5, 3, 4, 4, 5]


def test_item_numbers_in_column_names_decide_the_order():
    # wai_1 ... wai_12 given in another order used to be scored by position, silently wrong
    frame = pd.DataFrame([WAI_ROW], columns=[f"wai_{i}" for i in range(1, 13)])
    shuffled = frame[[f"wai_{i}" for i in (3, 1, 2, 12, 5, 6, 7, 8, 9, 10, 11, 4)]]
    expected = score("wai_sr", frame)
    got = score("wai_sr", shuffled)
    pd.testing.assert_frame_equal(got, expected)
    assert got.loc[0, "task"] == pytest.approx((4 + 5 + 4 + 5) / 4, abs=1e-12)  # closed form


def test_names_and_positions_that_disagree_are_refused():
    frame = pd.DataFrame([[9, 9, 9, 9]], columns=["srs_2", "srs_3", "srs_4", "srs_5"])
    assert score("srs", frame)["total"].tolist() == [36.0]  # numbers increase: position order
    odd = pd.DataFrame([[9, 9, 9, 9]], columns=["q4", "q2", "q9", "q1"])
    with pytest.raises(InstrumentError, match="disagree with the columns' positions"):
        score("srs", odd)
    items = pd.DataFrame([WAI_ROW], columns=[f"wai_{i}" for i in range(1, 13)])
    listed = [f"wai_{i}" for i in (2, 1, *range(3, 13))]
    with pytest.raises(InstrumentError, match="disagree"):
        score("wai_sr", items, columns=listed)
    by_number = {i + 1: c for i, c in enumerate(listed)}  # a mapping states the numbers itself
    assert score("wai_sr", items, columns=by_number)["total"].notna().all()


def test_loader_item_lists_follow_the_same_rule():
    from alliancestats.errors import ParameterError
    from alliancestats.io import load_sessions

    frame = pd.DataFrame(
        [[1, 1, *WAI_ROW]], columns=["id", "s", *[f"wai_{i}" for i in range(1, 13)]]
    )
    listed = [f"wai_{i}" for i in (2, 1, *range(3, 13))]
    with pytest.raises(ParameterError, match="disagree"):
        load_sessions(frame, patient="id", session="s", instruments={"wai_sr": listed})


# --------------------------------------------------------------------------- cut-offs


def test_cutoff_rule_comes_from_the_registry_and_can_be_overridden():
    srs = pd.DataFrame([[9, 9, 9, 9], [9, 9, 9, 8.5]])
    default = score("srs", srs)
    assert default["below_cutoff"].tolist() == [False, True]
    assert default.attrs["cutoff_rule"] == "total < 36"
    inclusive = score("srs", srs, cutoff_inclusive=True)
    assert inclusive["below_cutoff"].tolist() == [True, True]
    assert inclusive.attrs["cutoff_rule"] == "total <= 36"
    assert score("srs", srs, cutoff=35)["below_cutoff"].tolist() == [False, False]


def test_ors_flags_scores_below_25_and_distress_cutoffs_flag_scores_above():
    ors = score("ors", pd.DataFrame([[6, 6, 6, 6.5], [7, 6, 6, 6]]))
    assert ors["total"].tolist() == [24.5, 25.0]
    assert ors["below_cutoff"].tolist() == [True, False]
    oq = score("oq45", pd.DataFrame([[2] * 45]), key={"reverse_items": []}, cutoff=64)
    assert oq["total"].tolist() == [90.0] and oq["above_cutoff"].tolist() == [True]
    assert "below_cutoff" not in score("oq45", pd.DataFrame([[2] * 45]), key={"reverse_items": []})
