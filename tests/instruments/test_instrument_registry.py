"""Registry contents (against DOMAIN.md sections 1-2) and register_instrument checks."""

from __future__ import annotations

import itertools
import math

import pandas as pd
import pytest

from alliancestats.errors import InstrumentError
from alliancestats.instruments import (
    Instrument,
    get_instrument,
    instruments,
    register_instrument,
    score,
    unregister_instrument,
)

# Facts from DOMAIN.md sections 1-2: id -> (n_items, item_min, item_max, score_min, score_max,
# mcid, mcid_percent, higher_is_better, key_verified)
EXPECTED = {
    "wai_sr": (12, 1, 5, 1, 5, None, None, True, True),
    "wai": (36, 1, 7, 1, 7, None, None, True, False),
    "wai_s": (12, 1, 7, 1, 7, None, None, True, False),
    "haq_ii": (19, 1, 6, 1, 6, None, None, True, False),
    "srs": (4, 0, 10, 0, 40, None, None, True, True),
    "nrs": (1, 0, 10, 0, 10, 2.0, 30.0, False, True),
    "vas": (1, 0, 100, 0, 100, 15.0, None, False, True),
    "rmdq": (24, 0, 1, 0, 24, 5.0, 30.0, False, True),
    "rmdq_18": (18, 0, 1, 0, 18, None, None, False, False),
    "rmdq_11": (11, 0, 1, 0, 11, None, None, False, False),
    "odi": (10, 0, 5, 0, 100, 10.0, 30.0, False, True),
    "ndi": (10, 0, 5, 0, 50, 4.7, None, False, True),
    "psfs": (None, 0, 10, 0, 10, 2.0, None, True, True),
    "quickdash": (11, 1, 5, 0, 100, 14.0, None, False, True),
    "gpe": (1, -5, 5, -5, 5, None, None, True, True),
    "ears": (6, 0, 4, 0, 24, 5.5, None, True, False),
    "attendance": (2, 0, math.inf, 0, 1, None, None, True, True),
    "exercise_adherence": (2, 0, math.inf, 0, 1, None, None, True, True),
    "exercise_adherence_yn": (1, 0, 1, 0, 1, None, None, True, True),
    "oq45": (45, 0, 4, 0, 180, None, None, False, False),
    "ors": (4, 0, 10, 0, 40, None, None, True, True),
}

# DOMAIN.md section 7 (routine outcome monitoring): id -> (cutoff, cutoff_rule, rci, verified)
THRESHOLDS = {
    "oq45": (None, ">=", 14.0, False),
    "ors": (25.0, "<", 5.0, False),
    "srs": (36.0, "<", None, True),
}


@pytest.fixture
def cleanup():
    created: list[str] = []
    yield created
    for iid in created:
        try:
            unregister_instrument(iid)
        except InstrumentError:
            pass


def test_registry_holds_exactly_the_domain_instruments():
    table = instruments()
    assert sorted(table["id"]) == sorted(EXPECTED)
    assert table["id"].is_unique


@pytest.mark.parametrize("iid", sorted(EXPECTED))
def test_registry_facts(iid):
    n, imin, imax, smin, smax, mcid, mpct, hib, verified = EXPECTED[iid]
    inst = get_instrument(iid)
    assert inst.n_items == n
    assert (inst.item_min, inst.item_max) == (imin, imax)
    assert (inst.score_min, inst.score_max) == (smin, smax)
    assert inst.mcid == mcid
    assert inst.mcid_percent == mpct
    assert inst.higher_is_better is hib
    assert inst.key_verified is verified
    assert inst.builtin is True
    if inst.mcid is not None:
        assert inst.mcid_source  # every threshold carries its citation
    assert inst.citation


def test_registry_keys_and_rules():
    wai_sr = get_instrument("wai_sr")
    assert dict(wai_sr.subscales) == {
        "task": (1, 2, 10, 12),
        "goal": (4, 6, 8, 11),
        "bond": (3, 5, 7, 9),
    }
    assert wai_sr.reverse_items == ()
    assert get_instrument("haq_ii").reverse_items == (4, 8, 11, 16, 19)
    assert get_instrument("wai").reliability == 0.92
    assert "Hanson" in get_instrument("wai").reliability_source
    # only the WAI reliability is sourced; every other default must stay None
    others = instruments().query("id != 'wai'")
    assert others["reliability"].isna().all()
    for iid in ("wai", "wai_s", "ears"):
        assert get_instrument(iid).key_required
    assert get_instrument("srs").cutoff == 36
    assert get_instrument("quickdash").max_missing == 1
    assert get_instrument("rmdq").blank_means == 0
    assert get_instrument("psfs").min_items == 3 and get_instrument("psfs").max_items == 5
    assert get_instrument("ndi").mcid_kind == "MDC90"


def test_table_is_tidy():
    table = instruments()
    assert table.loc[table["id"] == "wai_sr", "subscales"].item() == (
        "task: 1,2,10,12; goal: 4,6,8,11; bond: 3,5,7,9"
    )
    assert table.loc[table["id"] == "haq_ii", "reverse_items"].item() == "4,8,11,16,19"
    assert set(instruments("pain")["id"]) == {"nrs", "vas"}
    with pytest.raises(InstrumentError, match="construct"):
        instruments("mood")


def test_no_item_wording_in_registry():
    # structure only: no free-text field may look like a questionnaire statement
    table = instruments()
    assert "items" not in table.columns
    assert not any(hasattr(get_instrument(i), "item_text") for i in table["id"])


def test_get_instrument_errors_and_case():
    assert get_instrument("WAI-SR").id == "wai_sr"
    inst = get_instrument("odi")
    assert get_instrument(inst) is inst
    with pytest.raises(InstrumentError, match="known instruments: .*wai_sr"):
        get_instrument("haq")


def _fields(**over):
    base = dict(
        id="odi_pt",
        name="ODI (Portuguese adaptation)",
        construct="function",
        n_items=10,
        item_min=0,
        item_max=5,
        score_min=0,
        score_max=100,
        scoring="percent_of_answered",
        higher_is_better=False,
        max_missing=1,
    )
    base.update(over)
    return base


def test_register_and_score_local_adaptation(cleanup):
    from alliancestats.instruments import score

    inst = register_instrument(**_fields())
    cleanup.append("odi_pt")
    assert inst.builtin is False
    assert "odi_pt" in set(instruments()["id"])
    res = score("odi_pt", pd.DataFrame([[2, 1, 3, 2, 1, 2, 1, 2, 1, 1]]))
    assert res["total"].item() == pytest.approx(32.0, abs=1e-12)  # exact arithmetic
    with pytest.raises(InstrumentError, match="already exists .user-registered"):
        register_instrument(**_fields())
    replaced = register_instrument(**_fields(name="ODI-PT v2"), overwrite=True)
    assert get_instrument("odi_pt") is replaced


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"subscales": {"a": (1, 11)}}, "outside 1..10"),
        ({"subscales": {"a": ()}}, "no items"),
        ({"subscales": {"a": (1, 1)}}, "twice"),
        ({"subscales": {"total": (1, 2)}}, "clashes"),
        ({"reverse_items": (0,)}, "reverse item 0"),
        ({"reverse_items": (3, 3)}, "duplicates"),
        ({"item_min": 5, "item_max": 5}, "item_min"),
        ({"score_min": 100, "score_max": 0}, "score_min"),
        ({"item_max": math.inf}, "finite"),
        ({"construct": "mood"}, "construct"),
        ({"scoring": "median"}, "scoring"),
        ({"n_items": 0}, "n_items"),
        ({"n_items": None}, "min_items and max_items"),
        ({"reliability": 1.2}, "reliability"),
        ({"mcid": -3}, "mcid"),
        ({"blank_means": 9}, "blank_means"),
        ({"max_missing": -1}, "max_missing"),
        ({"id": ""}, "non-empty"),
        ({"colour": "red"}, "invalid instrument fields"),
        ({"item_max": "five"}, "ranges numbers"),
        ({"reverse_items": ("x",)}, "integers"),
        ({"id": "odi pt"}, "lower-case letters"),
    ],
)
def test_register_rejects_inconsistent_definitions(override, message):
    with pytest.raises(InstrumentError, match=message):
        register_instrument(**_fields(**override))
    assert "odi_pt" not in set(instruments()["id"])


def test_builtin_never_overwritten_silently(cleanup):
    with pytest.raises(InstrumentError, match="built-in"):
        register_instrument(**_fields(id="odi"))
    assert get_instrument("odi").builtin
    register_instrument(**_fields(id="odi", name="my ODI"), overwrite=True)
    cleanup.append("odi")
    assert get_instrument("odi").name == "my ODI"
    unregister_instrument("odi")
    cleanup.clear()
    assert get_instrument("odi").builtin  # restored
    with pytest.raises(InstrumentError, match="no user-registered"):
        unregister_instrument("odi")


def test_register_accepts_instrument_object(cleanup):
    inst = Instrument(**_fields(id="ODI_X"))
    reg = register_instrument(inst)
    cleanup.append("odi_x")
    assert reg.id == "odi_x" and get_instrument("odi_x") is reg
    with pytest.raises(InstrumentError, match="not both"):
        register_instrument(inst, name="x")
    with pytest.raises(InstrumentError, match="expected an Instrument"):
        register_instrument({"id": "x"})


def test_with_key_validates():
    with pytest.raises(InstrumentError, match="outside items 1..19"):
        get_instrument("haq_ii").with_key(reverse_items=[20])
    assert get_instrument("wai").with_key(reverse_items=[]).key_required is False


# --------------------------------------------------------------------------- register_instrument checks

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


# --------------------------------------------------------------------------- monitoring thresholds


@pytest.mark.parametrize("iid", sorted(THRESHOLDS))
def test_monitoring_instruments_carry_their_published_thresholds(iid):
    cutoff, rule, rci, verified = THRESHOLDS[iid]
    inst = get_instrument(iid)
    assert (inst.cutoff, inst.cutoff_rule, inst.rci, inst.thresholds_verified) == (
        cutoff,
        rule,
        rci,
        verified,
    )
    row = instruments().set_index("id").loc[iid]
    assert row["cutoff_rule"] == rule and bool(row["thresholds_verified"]) is verified
    if not verified:  # the docs and the table say where the numbers are unverified
        assert "unverified" in f"{inst.cutoff_source} {inst.rci_source} {inst.notes}"


def test_thresholds_are_overridable():
    ors = get_instrument("ors").with_thresholds(cutoff=28, cutoff_rule="<=", rci=6)
    assert (ors.cutoff, ors.cutoff_rule, ors.rci) == (28.0, "<=", 6.0)
    assert get_instrument("ors").cutoff == 25.0  # the registry entry is unchanged
    with pytest.raises(InstrumentError, match="cutoff_rule must be one of"):
        get_instrument("srs").with_thresholds(cutoff_rule="=<")
    with pytest.raises(InstrumentError, match="rci must be a positive"):
        get_instrument("ors").with_thresholds(rci=-1)


def test_instrument_modules_import_in_one_direction():
    # definitions.py and registry.py used to import each other (the registry lazily)
    import ast
    import importlib
    from pathlib import Path

    root = Path(importlib.import_module("alliancestats.instruments.registry").__file__).parent
    imports = {}
    for name in ("instrument", "definitions", "registry"):
        tree = ast.parse((root / f"{name}.py").read_text())
        found = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        nested = [
            n
            for f in ast.walk(tree)
            if isinstance(f, ast.FunctionDef)
            for n in ast.walk(f)
            if isinstance(n, ast.Import | ast.ImportFrom)
        ]
        assert not nested, f"{name}.py imports inside a function"
        imports[name] = {m.rsplit(".", 1)[-1] for m in found if m and "instruments" in m}
    assert imports["instrument"] == set()
    assert imports["definitions"] == {"instrument"}
    assert "definitions" in imports["registry"] and "registry" not in imports["definitions"]
