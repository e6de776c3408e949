"""Fixtures for the loader tests."""

from __future__ import annotations

import pandas as pd
import pytest
from io_cohort import KW, make_long


@pytest.fixture
def long_frame() -> pd.DataFrame:
    return make_long()


@pytest.fixture
def reference(long_frame):
    from alliancestats.io import load_sessions

    return load_sessions(long_frame, **KW).data
