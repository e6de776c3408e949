"""rupture_overview: the report section's tables agree with the single-rule functions."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
from matplotlib.figure import Figure

import alliancestats as als
from alliancestats.alliance.rupture_overview import rupture_overview
from alliancestats.errors import ParameterError


@pytest.fixture(scope="module")
def cohort():
    return als.read_sample("psychotherapy_cohort")


def test_counts_and_patterns_match_ruptures_and_rupture_patterns(cohort):
    ov = rupture_overview(cohort, "wai_sr", reliability=0.92, figures=False,
                          repair_window=2)
    assert ov.counts["method"].tolist() == ["stiles2004", "strauss2006", "gumz2012", "rci",
                                            "tang_derubeis", "zilcha_mano2019"]
    for row in ov.counts.itertuples():
        kw = {"reliability": 0.92} if row.method in ("rci", "tang_derubeis",
                                                      "zilcha_mano2019") else {}
        single = als.ruptures(cohort, "wai_sr", method=row.method, repair_window=2, **kw)
        assert row.n_events == len(single) == len(ov.events[row.method])
        assert row.n_patients_with_event == single["patient"].nunique()
        assert row.n_repaired == (single["status"] == "repaired").sum()
        assert row.n_patients == 331
    pats = als.rupture_patterns(cohort, "wai_sr", method="stiles2004", repair_window=2)
    judged = pats[pats["evaluable"]]
    mine = ov.patterns[ov.patterns["method"] == "stiles2004"].set_index("pattern")["n"]
    assert mine.to_dict() == judged["pattern"].value_counts().to_dict()
    assert mine.sum() == ov.counts.set_index("method").loc["stiles2004", "n_evaluable"]
    assert "zilcha_mano2019" not in set(ov.patterns["method"])
    assert "stiles2004" in ov.summary()


def test_figures_and_notes(cohort):
    ov = rupture_overview(cohort, "wai_sr", max_patients=4)
    assert set(ov.figures) == {"examples", "profile", "sessions"}
    assert all(isinstance(f, Figure) for f in ov.figures.values())
    assert plt.get_fignums() == []  # figures are not left in pyplot's state
    assert any("reliability" in n for n in ov.notes)
    assert any("gumz2012" in n for n in ov.notes)
    assert len(ov.figures["examples"].axes) == 4


def test_argument_errors(cohort):
    with pytest.raises(ParameterError, match="empty"):
        rupture_overview(cohort, "wai_sr", methods=[])
    with pytest.raises(ParameterError, match="figure_method"):
        rupture_overview(cohort, "wai_sr", methods=["stiles2004"], figure_method="gumz2012")
    with pytest.raises(ParameterError, match="unknown argument"):
        rupture_overview(cohort, "wai_sr", repair_windw=2)
