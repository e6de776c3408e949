"""Item-level instruments scored while loading."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alliancestats.errors import DataValidationError
from alliancestats.instruments import score
from alliancestats.io import load_sessions


def _items_frame(n: int = 6, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    wai = pd.DataFrame(rng.integers(1, 6, size=(n, 12)), columns=[f"wai_{i}" for i in range(1, 13)])
    odi = pd.DataFrame(rng.integers(0, 6, size=(n, 10)), columns=[f"odi_{i}" for i in range(1, 11)])
    ids = pd.DataFrame({"id": np.repeat(np.arange(1, n // 2 + 1), 2), "s": np.tile([1, 2], n // 2)})
    return pd.concat([ids, wai, odi], axis=1)


def test_scores_match_the_instrument_scorer():
    frame = _items_frame()
    sd = load_sessions(
        frame,
        patient="id",
        session="s",
        instruments={"wai_sr": "wai_{i}", "odi": "odi_{i}"},
        alliance_rater="patient",
    )
    d = sd.data
    assert d.columns.tolist() == [
        "patient",
        "session",
        "alliance",
        "alliance_task",
        "alliance_goal",
        "alliance_bond",
        "function",
        "source_row",
    ]
    expected = score("wai_sr", frame[[f"wai_{i}" for i in range(1, 13)]])
    np.testing.assert_array_equal(d["alliance"].to_numpy(), expected["total"].to_numpy())
    np.testing.assert_array_equal(d["alliance_bond"].to_numpy(), expected["bond"].to_numpy())
    odi = score("odi", frame[[f"odi_{i}" for i in range(1, 11)]])
    np.testing.assert_array_equal(d["function"].to_numpy(), odi["total"].to_numpy())
    assert sd.raters == {
        "alliance": "patient",
        "alliance_task": "patient",
        "alliance_goal": "patient",
        "alliance_bond": "patient",
    }
    assert sd.instruments == {"wai_sr": "alliance", "odi": "function"}


def test_options_names_and_kept_items():
    frame = _items_frame()
    sd = load_sessions(
        frame,
        patient="id",
        session="s",
        keep_items=True,
        instruments={"wai_sr": {"items": "wai_{i}", "scale": "sum", "name": "wai"}},
    )
    d = sd.data
    assert {"wai", "wai_task", "wai_1", "wai_12"} <= set(d.columns)
    assert d["wai"].between(12, 60).all()
    assert sd.alliance_columns == ["wai", "wai_task", "wai_goal", "wai_bond"]


def test_invalid_items_are_problems_with_their_cell(tmp_path):
    frame = _items_frame()
    frame = frame.astype({"wai_5": object, "odi_2": object})
    frame.loc[2, "wai_5"] = 7
    frame.loc[4, "odi_2"] = "a lot"
    path = tmp_path / "items.csv"
    frame.to_csv(path, index=False)
    kw = {"patient": "id", "session": "s", "instruments": {"wai_sr": "wai_{i}", "odi": "odi_{i}"}}
    with pytest.raises(DataValidationError) as err:
        load_sessions(path, **kw)
    pr = err.value.problems
    assert pr[["row", "column", "value", "kind"]].values.tolist() == [
        [4, "wai_5", "7", "invalid_item"],
        [6, "odi_2", "a lot", "invalid_item"],
    ]
    assert pr["reason"][0] == "wai_sr item 5: out of range [1, 5]"
    sd = load_sessions(path, strict=False, warn=False, **kw)
    assert sd.n_dropped == 2 and sd.data["source_row"].tolist() == [2, 3, 5, 7]


def test_items_in_wide_layout_point_at_wide_columns():
    rng = np.random.default_rng(5)
    wide = pd.DataFrame({"id": [1, 2]})
    for s in (1, 2):
        for i in range(1, 13):
            wide[f"wai_{i}_s{s}"] = rng.integers(1, 6, size=2)
    wide = wide.astype(object)
    wide.loc[1, "wai_3_s2"] = 0
    with pytest.raises(DataValidationError) as err:
        load_sessions(wide, patient="id", layout="wide", instruments={"wai_sr": "wai_{i}"})
    pr = err.value.problems
    assert pr[["row", "column", "value"]].values.tolist() == [[1, "wai_3_s2", 0]]


def test_template_needs_item_placeholder():
    with pytest.raises(ValueError, match=r"\{i\}"):
        load_sessions(_items_frame(), patient="id", session="s", instruments={"wai_sr": "wai"})
