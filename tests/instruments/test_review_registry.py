"""Regression tests from the review of register_instrument: item numbers are checked."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest

from alliancestats.errors import InstrumentError
from alliancestats.instruments import register_instrument, score, unregister_instrument

_IDS = itertools.count()
BASE = {
    "name": "Review scale",
    "construct": "alliance",
    "n_items": 3,
    "item_min": 0,
    "item_max": 4,
    "score_min": 0,
    "score_max": 4,
    "citation": "test",
}


@pytest.fixture(autouse=True)
def _clean_registry():
    # the registry is process-wide: leave it as found so doctests listing it stay valid
    yield
    for iid in _CREATED:
        try:
            unregister_instrument(iid)
        except InstrumentError:
            pass
    _CREATED.clear()


_CREATED: list[str] = []


def _register(**changes):
    iid = f"review_{next(_IDS)}"
    _CREATED.append(iid)
    return register_instrument(**{**BASE, "id": iid, **changes})


def test_subscale_given_as_text_is_refused():
    # "123" used to be read character by character as items (1, 2, 3)
    with pytest.raises(InstrumentError, match="list such as"):
        _register(subscales={"a": "123"})


def test_fractional_item_numbers_are_refused():
    # reverse_items=(2.5,) used to be truncated to item 2
    with pytest.raises(InstrumentError, match="whole numbers"):
        _register(reverse_items=(2.5,))


def test_max_missing_must_leave_an_item_to_score():
    with pytest.raises(InstrumentError, match="must be below n_items"):
        _register(max_missing=3)


def test_valid_local_adaptation_scores_with_its_key():
    inst = _register(reverse_items=[2.0], subscales={"a": (1, 2)}, max_missing=1)
    assert inst.reverse_items == (2,)
    out = score(inst.id, pd.DataFrame([[4, 4, 4], [4, None, 2]]))
    # row 1: items 4, 4 -> reversed 0, 4 -> mean (4 + 0 + 4) / 3
    assert out["total"].iloc[0] == pytest.approx(8 / 3, rel=1e-12)  # closed form
    # row 2: one missing item allowed: (4 + 2) / 2
    assert out["total"].iloc[1] == pytest.approx(3.0, rel=1e-12)  # closed form
