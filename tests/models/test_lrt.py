"""lrt(): likelihood-ratio tests refuse models fitted to different data and warn when
the models are not nested."""

from __future__ import annotations

import warnings

import pytest
from lmm_review_data import complete, quiet_fit, sites

from alliancestats.errors import (
    DataQualityWarning,
    ModelSpecificationError,
)
from alliancestats.models import lrt


def test_lrt_refuses_models_fitted_to_different_data_of_equal_size():
    # old: compared a reshuffled response with chisq 0, p 1
    d = sites()
    m0 = quiet_fit("pain ~ session + (1 | patient)", d)
    shuffled = d.assign(pain=d["pain"].sample(frac=1, random_state=1).to_numpy())
    m1 = quiet_fit("pain ~ session + site + (1 | patient)", shuffled)
    with pytest.raises(ModelSpecificationError, match="different data"):
        lrt(m0, m1)


def test_lrt_refuses_different_sizes_and_non_results():
    d = sites()
    m0 = quiet_fit("pain ~ session + (1 | patient)", d)
    m1 = quiet_fit("pain ~ session + (1 | patient)", d.iloc[10:])
    with pytest.raises(ModelSpecificationError, match="different numbers of rows"):
        lrt(m0, m1)
    with pytest.raises(ModelSpecificationError, match="MixedResult"):
        lrt(m0, 3)


def test_lrt_warns_for_models_that_are_not_nested():
    d = complete()
    m0 = quiet_fit("pain ~ session + (1 | patient)", d)
    m1 = quiet_fit("pain ~ site + arm + (1 | therapist)", d)
    with pytest.warns(DataQualityWarning, match="not look nested"):
        tab = lrt(m0, m1)
    assert tab["df"].iloc[1] == 2  # the table is still computed, as lme4 does
    m2 = quiet_fit("pain ~ session + site + (1 | patient)", d)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataQualityWarning)
        lrt(m0, m2)  # nested: no warning
