"""Property tests: in-range items always give in-range scores; invalid items are never scored."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alliancestats.instruments import get_instrument, instruments, reliable_change, score

FIXED = [i for i in instruments()["id"] if get_instrument(i).n_items is not None]
KEYS = {
    "wai": {"reverse_items": [2, 5]},
    "wai_s": {"reverse_items": [3]},
    "ears": {"reverse_items": [1]},
    "oq45": {"reverse_items": [1]},
    "haq_ii": {"reverse_items": [4, 8, 11, 16, 19]},
}
TOL = 1e-9  # rounding in mean/sum arithmetic only


def _cell(inst, draw):
    hi = 40.0 if math.isinf(inst.item_max) else inst.item_max
    if inst.integer_items:
        return float(draw(st.integers(int(inst.item_min), int(hi))))
    return draw(st.floats(inst.item_min, hi, allow_nan=False))


@st.composite
def administrations(draw, iid):
    inst = get_instrument(iid)
    n_rows = draw(st.integers(1, 6))
    rows = []
    for _ in range(n_rows):
        row = [_cell(inst, draw) for _ in range(inst.n_items)]
        if inst.scoring == "ratio":
            row[1] = max(row[1], 1.0)
            row[0] = min(row[0], row[1])
        for j in range(inst.n_items):
            if draw(st.integers(0, 9)) == 0:
                row[j] = np.nan
        rows.append(row)
    return pd.DataFrame(rows)


@pytest.mark.parametrize("iid", FIXED)
@settings(max_examples=30)  # 19 instruments x 30 draws keeps the area fast on a shared CPU
@given(data=st.data())
def test_in_range_items_score_in_range(iid, data):
    frame = data.draw(administrations(iid))
    res = score(iid, frame, key=KEYS.get(iid))
    lo, hi = res.attrs["score_range"]
    total = res["total"].dropna()
    assert ((total >= lo - TOL) & (total <= hi + TOL)).all()
    assert (res["n_invalid"] == 0).all()
    # a NaN total always comes with a reason, a score never does
    assert res.loc[res["total"].isna(), "reason"].notna().all()
    assert res.loc[res["total"].notna(), "reason"].isna().all()
    inst = get_instrument(iid)
    for sub in inst.subscales:
        s = res[sub].dropna()
        assert ((s >= inst.item_min - TOL) & (s <= inst.item_max + TOL)).all()


@pytest.mark.parametrize("iid", [i for i in FIXED if not math.isinf(get_instrument(i).item_max)])
@settings(max_examples=30)  # as above
@given(data=st.data())
def test_out_of_range_items_never_scored(iid, data):
    inst = get_instrument(iid)
    frame = data.draw(administrations(iid))
    row = data.draw(st.integers(0, len(frame) - 1))
    col = data.draw(st.integers(0, inst.n_items - 1))
    above = data.draw(st.booleans())
    step = data.draw(st.integers(1, 50))
    frame.iat[row, col] = inst.item_max + step if above else inst.item_min - step
    res, problems = score(iid, frame, key=KEYS.get(iid), return_problems=True)
    assert np.isnan(res["total"].iloc[row])
    for sub in inst.subscales:
        assert np.isnan(res[sub].iloc[row])
    assert res["n_invalid"].iloc[row] >= 1
    assert "out of range" in res["reason"].iloc[row]
    assert ((problems["row"] == frame.index[row]) & (problems["item"] == col + 1)).any()


@given(
    pre=st.lists(st.floats(0, 10), min_size=2, max_size=20),
    shift=st.floats(-5, 5),
    r=st.floats(0.05, 0.95),
)
def test_rci_is_change_over_se(pre, shift, r):
    pre_s = pd.Series(pre)
    post_s = pre_s + shift
    res = reliable_change(pre_s, post_s, sd_pre=2.0, reliability=r, higher_is_better=False)
    se = math.sqrt(2) * 2.0 * math.sqrt(1 - r)
    assert np.allclose(res["rci"], (post_s - pre_s) / se, rtol=1e-12, atol=1e-12)
    improved = res["category"] == "improved"
    assert (res.loc[improved, "rci"] < -1.959).all()  # lower is better


@given(
    ratings=st.lists(
        st.lists(st.one_of(st.integers(0, 10), st.none()), min_size=5, max_size=5),
        min_size=1,
        max_size=8,
    )
)
def test_psfs_mean_in_range_and_rule(ratings):
    frame = pd.DataFrame(ratings, dtype=float)
    res = score("psfs", frame)
    answered = frame.notna().sum(axis=1)
    assert (res["total"].notna() == (answered >= 3)).all()
    ok = res["total"].notna()
    assert np.allclose(res.loc[ok, "total"], frame[ok].mean(axis=1), rtol=0, atol=TOL)
    assert ((res.loc[ok, "total"] >= 0) & (res.loc[ok, "total"] <= 10)).all()
