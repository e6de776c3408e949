"""Every effect-size measure of effect_sizes() against metafor 3.8-1 escalc().

Reference values: tests/reference/meta/effect_sizes.R -> effect_sizes.json. Every case of the
JSON is checked (the grid is asserted complete).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from alliancestats.errors import MetaAnalysisError
from alliancestats.meta import d_to_r, effect_sizes, meta_analysis
from alliancestats.meta.effect_sizes import MEASURES

REF = json.loads(
    (Path(__file__).parents[1] / "reference" / "meta" / "effect_sizes.json").read_text()
)
CASES = REF["cases"]
# closed-form formulas evaluated on both sides: round-off only (lgamma in Hedges' correction
# and asin/log cost a few ulps)
CLOSED = 1e-10


@pytest.mark.parametrize("name", sorted(CASES))
def test_measure_matches_escalc(name):
    case = CASES[name]
    inputs = {k: np.atleast_1d(np.asarray(v, dtype=float)) for k, v in case["inputs"].items()}
    es = effect_sizes(measure=case["measure"], to=case.get("to", "only0"), **inputs)
    np.testing.assert_allclose(es["yi"], np.asarray(case["yi"], float), rtol=CLOSED, atol=1e-14)
    np.testing.assert_allclose(es["vi"], np.asarray(case["vi"], float), rtol=CLOSED, atol=1e-14)
    assert es.attrs["measure"] == case["measure"]


def test_reference_grid_covers_every_measure():
    assert REF["versions"]["metafor"] == "3.8.1"
    pinned = {case["measure"] for case in CASES.values()} | {"ZCOR", "COR"}  # in models.json
    assert pinned == set(MEASURES) - {"GEN"}


def test_d_to_r_jacobs_matches_transf_dtorpb():
    conv = REF["conversions"]
    d, n1, n2 = (np.asarray(conv["inputs"][k], float) for k in ("d", "n1i", "n2i"))
    np.testing.assert_allclose(d_to_r(d, n1, n2, method="jacobs"), conv["r_jacobs"], rtol=CLOSED)
    np.testing.assert_allclose(d_to_r(d), conv["r_equal_groups"], rtol=CLOSED)


def test_metafor_argument_names_and_short_names_agree():
    a = effect_sizes(measure="SMD", d=[0.5], n1=[20], n2=[30])
    b = effect_sizes(measure="SMD", di=[0.5], n1i=[20], n2i=[30])
    assert a["yi"].iloc[0] == b["yi"].iloc[0]
    with pytest.raises(MetaAnalysisError, match="not both"):
        effect_sizes(measure="SMD", d=[0.5], n1=[20], n1i=[20], n2=[30])


def test_inputs_the_measure_does_not_use_are_refused():
    # a stray argument used to be ignored without a word
    with pytest.raises(MetaAnalysisError, match="does not use m1i"):
        effect_sizes(measure="RR", ai=[1], bi=[9], ci=[2], di=[8], m1i=[3.0])


def test_counts_and_group_sizes_are_checked():
    with pytest.raises(MetaAnalysisError, match="non-negative counts"):
        effect_sizes(measure="OR", ai=[-1], bi=[9], ci=[2], di=[8])
    with pytest.raises(MetaAnalysisError, match="cannot exceed"):
        effect_sizes(measure="PR", xi=[12], ni=[10])
    with pytest.raises(MetaAnalysisError, match="n1i must be positive"):
        effect_sizes(measure="MD", m1i=[1.0], m2i=[0.5], sd1i=[1.0], sd2i=[1.0], n1i=[0], n2i=[5])
    with pytest.raises(MetaAnalysisError, match="more cases than predictors"):
        effect_sizes(measure="PCOR", ti=[2.0], ni=[4], mi=[3])


def test_smd_table_feeds_meta_analysis_with_its_measure():
    es = effect_sizes(
        measure="SMD", m1i=[10, 12, 9], m2i=[8, 9, 9.5], sd1i=[4, 5, 3], sd2i=[4, 4, 3],
        n1i=[20, 35, 15], n2i=[22, 30, 15],
    )  # fmt: skip
    res = meta_analysis(es)
    assert res.measure == "SMD" and res.k == 3
