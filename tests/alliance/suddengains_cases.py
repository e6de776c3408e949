"""Test cases of the R package suddengains 0.7.2 (tests/testthat, MIT licence), as data.

The numbers (inputs and expected outputs) are transcribed from the package's testthat files
(Wiedemann, Thew, Stott & Ehlers; https://github.com/milanwiedemann/suddengains); no code is
copied. ``NA`` is ``None`` here. Column names follow this project (``session`` is the
pre-gain session N, ``n_events`` the package's ``sg_freq_byperson``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

NA = None

# ---------------------------------------------------------------------------------------------
# test-identify_sg.R / test-identify_sl.R: six consecutive scores, intervals 2-3, 3-4, 4-5
# ---------------------------------------------------------------------------------------------
IDENTIFY_DF1 = [
    (1, 28, 19, 23, 12, 13, NA),
    (2, 28, 19, 23, 11, 12, NA),
    (3, 28, 19, NA, 12, 13, NA),
    (4, 28, 19, 23, 12, 13, NA),
    (5, 28, 19, 23, 12, 14, NA),
    (6, 28, 19, NA, 12, 13, NA),
    (7, 28, 19, 23, 11, 12, NA),
    (8, 28, 25, 28, 11, 12, NA),
    (9, 28, 26, 28, 11, 12, NA),
    (10, NA, 26, 28, NA, 12, 11),
]
#: identify_sg(df1, sg_crit1_cutoff = 7): sg_2to3, sg_3to4, sg_4to5 per id
IDENTIFY_SG_DF1 = {
    1: (0, 0, NA), 2: (0, 1, NA), 3: (NA, NA, NA), 4: (0, 0, NA), 5: (0, 0, NA),
    6: (NA, NA, NA), 7: (0, 1, NA), 8: (0, 1, NA), 9: (0, 1, NA), 10: (NA, NA, NA),
}
IDENTIFY_SG_DF2 = [
    (1, 35, 37, 23, 23, 24, 21),
    (2, 35, 37, 34, 24, 24, 21),
    (3, 35, 37, 34, 34, 24, 21),
    (4, 35, 37, 34, 37, 37, 37),
]
IDENTIFY_SG_DF2_EXPECTED = {1: (1, 0, 0), 2: (0, 1, 0), 3: (0, 0, 1), 4: (0, 0, 0)}
IDENTIFY_SL_DF2 = [
    (1, 10, 11, 12, 30, 28, 33),
    (2, 10, 11, 12, 10, 28, 33),
    (3, 10, 11, 30, 30, 28, 33),
    (4, 35, 37, 34, 23, 24, 21),
]
#: identify_sl(df2, sg_crit1_cutoff = -7)
IDENTIFY_SL_DF2_EXPECTED = {1: (0, 1, 0), 2: (0, 0, 1), 3: (1, 0, 0), 4: (0, 0, 0)}

# ---------------------------------------------------------------------------------------------
# test-create_bysg.R / test-create_byperson.R: bdi_s0 ... bdi_s12 of 18 people
# ---------------------------------------------------------------------------------------------
CREATE_DF = [
    (1, 33, 35, 37, 34, 23, 24, 21, 29, 17, 11, 11, 10, 7),
    (2, 26, 26, NA, 26, NA, 27, 17, 19, 11, 10, 3, NA, 7),
    (3, 40, 35, 38, 35, 37, 36, 37, NA, 35, 26, 24, NA, 19),
    (4, 33, 31, 30, 32, 22, 22, 20, 21, 19, 24, 33, 30, 28),
    (5, 39, 39, 37, 36, 26, 26, 23, 21, 19, 6, 7, 8, 8),
    (6, 35, 37, NA, 23, NA, 23, 21, NA, NA, 19, NA, 16, 13),
    (7, NA, 37, NA, 23, 21, NA, 21, NA, NA, NA, NA, NA, 20),
    (8, 40, 41, 37, NA, NA, NA, NA, NA, NA, NA, NA, NA, NA),
    (9, 33, 35, 34, 32, 23, 24, 22, 21, 17, 14, 10, 13, 11),
    (10, 34, 35, 35, 25, 25, 17, 17, 16, 16, 11, 9, 7, 8),
    (11, 30, 40, NA, 36, 37, 36, 37, NA, 34, 26, 25, NA, 19),
    (12, 32, 38, 38, 31, 23, 21, 22, 24, 25, 30, 31, NA, 25),
    (13, 34, 34, 33, 36, 23, 25, 23, 19, 18, 10, 9, 8, 9),
    (14, 37, 39, 37, 23, NA, 23, 21, NA, NA, 21, NA, 16, 14),
    (15, 25, 28, 19, 23, 12, 13, NA, 13, NA, NA, NA, NA, 22),
    (16, NA, 25, NA, NA, NA, NA, NA, NA, NA, NA, NA, NA, 20),
    (17, 40, 41, 37, NA, NA, NA, NA, NA, NA, NA, NA, NA, NA),
    (18, 33, NA, 38, 35, 24, NA, 22, 17, 16, NA, 9, 11, 13),
]
#: create_bysg(df, sg_crit1_cutoff = 7, tx_start = bdi_s1, tx_end = bdi_s12, s1..s12):
#: id, N, sg_freq_byperson, scores N-2..N+3, magnitude, tx change, change proportion,
#: reversal value, reversal
CREATE_BYSG = [
    (1, 3, 2, (35, 37, 34, 23, 24, 21), 11, 28, 0.39285714285714285, 28.5, 1),
    (1, 7, 2, (24, 21, 29, 17, 11, 11), 12, 28, 0.42857142857142855, 23, 0),
    (3, 8, 1, (37, NA, 35, 26, 24, NA), 9, 16, 0.5625, 30.5, 0),
    (4, 3, 1, (31, 30, 32, 22, 22, 20), 10, 3, 3.3333333333333335, 27, 1),
    (5, 3, 2, (39, 37, 36, 26, 26, 23), 10, 31, 0.3225806451612903, 31, 0),
    (5, 8, 2, (23, 21, 19, 6, 7, 8), 13, 31, 0.41935483870967744, 12.5, 0),
    (9, 3, 1, (35, 34, 32, 23, 24, 22), 9, 24, 0.375, 27.5, 0),
    (10, 2, 2, (NA, 35, 35, 25, 25, 17), 10, 27, 0.37037037037037035, 30, 0),
    (10, 4, 2, (35, 25, 25, 17, 17, 16), 8, 27, 0.2962962962962963, 21, 0),
    (12, 3, 1, (38, 38, 31, 23, 21, 22), 8, 13, 0.6153846153846154, 27, 1),
    (13, 3, 2, (34, 33, 36, 23, 25, 23), 13, 25, 0.52, 29.5, 0),
    (13, 8, 2, (23, 19, 18, 10, 9, 8), 8, 25, 0.32, 14, 0),
    (14, 2, 1, (NA, 39, 37, 23, NA, 23), 14, 25, 0.56, 30, 0),
    (18, 3, 1, (NA, 38, 35, 24, NA, 22), 11, NA, NA, 29.5, 0),
]
#: create_byperson(..., multiple_sg_select = "first" / "largest"): id -> (N, magnitude,
#: reversal); people not listed have no gain
BYPERSON_FIRST = {1: (3, 11, 1), 3: (8, 9, 0), 4: (3, 10, 1), 5: (3, 10, 0), 9: (3, 9, 0),
                  10: (2, 10, 0), 12: (3, 8, 1), 13: (3, 13, 0), 14: (2, 14, 0), 18: (3, 11, 0)}
BYPERSON_LARGEST = {**BYPERSON_FIRST, 1: (7, 12, 0), 5: (8, 13, 0)}

# ---------------------------------------------------------------------------------------------
# test-count_intervals.R: the variable list names bdi_s7 twice and leaves out bdi_s6, so the
# package analyses the eight columns s0, s1, s2, s3, s4, s5, s7, s8 as consecutive
# ---------------------------------------------------------------------------------------------
COUNT_DF = [
    (1, 33, 35, 37, 34, 10, 10, 11, 35, 35),
    (2, 26, 26, NA, 26, NA, 27, 33, 31, 30),
]
COUNT_COLUMNS = ("s0", "s1", "s2", "s3", "s4", "s5", "s7", "s8")
COUNT_AVAILABLE, COUNT_NOT_AVAILABLE = 6, 4

# ---------------------------------------------------------------------------------------------
# test-select_cases.R
# ---------------------------------------------------------------------------------------------
SELECT_DF = [
    (1, NA, 10, 10, 10, 10, NA),
    (2, NA, 10, 10, 10, NA, 10),
    (3, 10, NA, 10, 10, 10, NA),
    (4, 10, NA, 10, 10, 10, 10),
    (5, 10, NA, NA, 10, 10, 10),
    (6, 10, NA, NA, NA, NA, 10),
    (7, 10, 10, 10, 10, 10, 10),
]
SELECT_PATTERN = [True, True, True, True, False, False, True]
SELECT_MIN_SESS_5 = [False, False, False, True, False, False, True]

# ---------------------------------------------------------------------------------------------
# test-define_crit1_cutoff.R
# ---------------------------------------------------------------------------------------------
#: sd, reliability -> sd, sem, se of the difference, reliable change
CUTOFF_FROM_SGDATA = (6.396073, 0.931, 1.680111, 2.376036, 4.65703)
CUTOFF_GIVEN_SD = (10.5, 0.961, 2.073584, 2.93249, 5.747681)


def wide(rows: list[tuple], stem: str, sessions: list[int] | tuple[int, ...]) -> pd.DataFrame:
    """A wide frame ``id, <stem>_s<session>...`` from rows ``(id, score, score, ...)``."""
    columns = ["id", *[f"{stem}_s{s}" for s in sessions]]
    frame = pd.DataFrame([[np.nan if v is None else v for v in r] for r in rows], columns=columns)
    return frame.astype({c: float for c in columns[1:]})
