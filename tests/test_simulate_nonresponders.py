"""Planted non-responders in simulate_sessions: who they are and what they do to pain."""

from __future__ import annotations

import numpy as np

from alliancestats import simulate_sessions

KW = dict(n_therapists=20, patients_per_therapist=(10, 10), sessions=(8, 8), dropout_rate=0.0,
          missed_session_rate=0.0, missing_outcome_rate=0.0, seed=7)


def test_non_responders_add_the_planted_change_per_session_and_nothing_else():
    base = simulate_sessions(**KW)
    planted = simulate_sessions(nonresponder_rate=0.3, nonresponder_change=0.5, **KW)
    flag = planted["planted_nonresponder"].to_numpy()
    assert planted["planted_nonresponder"].dtype == bool
    assert planted.groupby("patient")["planted_nonresponder"].nunique().eq(1).all()
    share = planted.groupby("patient")["planted_nonresponder"].first().mean()
    assert 0.2 < share < 0.4  # 200 patients at rate 0.3: within about 3 binomial SEs
    shift = planted["pain"] - base["pain"]
    # the same draws apart from the shift: x = session - 1 times the change, exactly
    # (floating-point addition only)
    np.testing.assert_allclose(shift[flag], 0.5 * (planted.loc[flag, "session"] - 1), atol=1e-12)
    np.testing.assert_allclose(shift[~flag], 0.0, atol=1e-12)
    for column in ("alliance", "function", "therapist", "patient"):
        assert planted[column].equals(base[column])
    assert planted.attrs["truth"]["nonresponder_rate"] == 0.3


def test_without_non_responders_the_column_is_absent():
    assert "planted_nonresponder" not in simulate_sessions(**KW).columns
