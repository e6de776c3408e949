"""Built-in instrument definitions (structure and scoring keys only, never item wording).

Every number here carries its source in the ``citation``, ``reliability_source``,
``mcid_source`` or ``cutoff_source`` field. Keys that could not be checked against a primary
source have ``key_verified=False`` and are overridable with ``score(..., key=...)``; for the
36-item WAI, the 12-item WAI-S and the EARS the key is not shipped at all
(``key_required=True``) so that a wrong guess can never be applied silently.

Sources
-------
- Hatcher, R. L., & Gillaspy, J. A. (2006). Development and validation of a revised short
  version of the Working Alliance Inventory. *Psychotherapy Research*, 16(1), 12-25.
- Horvath, A. O., & Greenberg, L. S. (1989). Development and validation of the Working
  Alliance Inventory. *Journal of Counseling Psychology*, 36(2), 223-233.
- Tracey, T. J., & Kokotovic, A. M. (1989). Factor structure of the Working Alliance
  Inventory. *Psychological Assessment*, 1(3), 207-210.
- Hanson, W. E., Curry, K. T., & Bandalos, D. L. (2002). Reliability generalization of
  Working Alliance Inventory scale scores. *Educational and Psychological Measurement*, 62(4).
- Luborsky, L., et al. (1996). The Revised Helping Alliance Questionnaire (HAq-II).
  *Journal of Psychotherapy Practice and Research*, 5(3), 260-271.
- Duncan, B. L., et al. (2003). The Session Rating Scale. *Journal of Brief Therapy*, 3(1).
- Farrar, J. T., et al. (2001). Clinical importance of changes in chronic pain intensity
  measured on an 11-point numerical pain rating scale. *Pain*, 94(2), 149-158.
- Ostelo, R. W., et al. (2008). Interpreting change scores for pain and functional status in
  low back pain. *Spine*, 33(1), 90-94.
- Roland, M., & Morris, R. (1983). A study of the natural history of back pain. *Spine*, 8(2).
- Fairbank, J. C., & Pynsent, P. B. (2000). The Oswestry Disability Index. *Spine*, 25(22).
- Vernon, H., & Mior, S. (1991). The Neck Disability Index. *Journal of Manipulative and
  Physiological Therapeutics*, 14(7), 409-415.
- Stratford, P. W. (1999) on the Neck Disability Index for individual patients
  (*Physiotherapy Canada*): MDC90 4.7 of 50 points.
- Stratford, P., Gill, C., Westaway, M., & Binkley, J. (1995). Assessing disability and
  change on individual patients (the Patient-Specific Functional Scale). *Physiotherapy
  Canada*, 47(4), 258-263.
- Beaton, D. E., Wright, J. G., & Katz, J. N. (2005). Development of the QuickDASH.
  *Journal of Bone and Joint Surgery (Am)*, 87(5), 1038-1046.
- Sorensen, A. A., et al. (2013). Minimal clinically important differences of 3
  patient-rated outcomes instruments. *Journal of Hand Surgery (Am)*, 38(4), 641-649.
- Kamper, S. J., et al. (2010). Global perceived effect scales provided reliable assessments
  of health transition in people with musculoskeletal disorders, but ratings are strongly
  influenced by current status. *Journal of Clinical Epidemiology*, 63(7), 760-766.
- de Lira, M. R., et al. (2020). The Brazilian Portuguese version of the Exercise Adherence
  Rating Scale (EARS-Br). *BMC Musculoskeletal Disorders*, 21, 294 (MIC 5.5).
- Newman-Beinart, N. A., et al. (2017). The development and initial psychometric evaluation
  of a measure assessing adherence to prescribed exercise: the Exercise Adherence Rating
  Scale (EARS). *Physiotherapy*, 103(2), 180-185.
- Lambert, M. J., Burlingame, G. M., et al. (1996). The reliability and validity of the
  Outcome Questionnaire. *Clinical Psychology and Psychotherapy*, 3(4), 249-258.
- Miller, S. D., Duncan, B. L., Brown, J., Sparks, J. A., & Claud, D. A. (2003). The Outcome
  Rating Scale: a preliminary study of the reliability, validity, and feasibility of a brief
  visual analog measure. *Journal of Brief Therapy*, 2(2), 91-100.

The routine-monitoring thresholds (OQ-45 reliable change 14 points; ORS clinical cut-off 25
and reliable change 5 points) are the values used in the feedback literature (Lambert's OQ
system, PCOMS); they were not checked against the manuals, so those entries carry
``thresholds_verified=False`` and can be overridden with ``Instrument.with_thresholds`` or
``score(..., cutoff=...)``.

Examples
--------
>>> from alliancestats.instruments.definitions import BUILTIN_INSTRUMENTS
>>> len(BUILTIN_INSTRUMENTS)
21
"""

from __future__ import annotations

from alliancestats.instruments.instrument import Instrument

__all__ = ["BUILTIN_INSTRUMENTS"]

_OSTELO = "Ostelo et al. 2008, Spine 33(1):90-94"
_HANSON = "Hanson, Curry & Bandalos 2002, Educ Psychol Meas 62(4) (modal WAI alpha .92)"
_NO_MISSING_RULE = (
    "all items required (no published prorating rule); max_missing= allows the mean of "
    "answered items"
)

WAI_SR = Instrument(
    id="wai_sr",
    name="Working Alliance Inventory - Short Revised (WAI-SR)",
    construct="alliance",
    n_items=12,
    item_min=1,
    item_max=5,
    score_min=1,
    score_max=5,
    scoring="mean",
    subscales={"task": (1, 2, 10, 12), "goal": (4, 6, 8, 11), "bond": (3, 5, 7, 9)},
    reverse_items=(),
    higher_is_better=True,
    max_missing=0,
    missing_rule=_NO_MISSING_RULE,
    citation="Hatcher & Gillaspy 2006, Psychother Res 16(1):12-25",
    key_verified=True,
    notes=(
        "Default scale='mean' (total and subscales on the 1-5 item metric); scale='sum' gives "
        "subscale sums 4-20 and total 12-60. Patient and therapist forms share the key. "
        "No default reliability: the .92 of Hanson et al. 2002 refers to the WAI."
    ),
)

WAI = Instrument(
    id="wai",
    name="Working Alliance Inventory (WAI, 36 items)",
    construct="alliance",
    n_items=36,
    item_min=1,
    item_max=7,
    score_min=1,
    score_max=7,
    scoring="mean",
    max_missing=0,
    missing_rule=_NO_MISSING_RULE,
    reliability=0.92,
    reliability_source=_HANSON,
    citation="Horvath & Greenberg 1989, J Couns Psychol 36(2):223-233",
    key_verified=False,
    key_required=True,
    notes=(
        "Goal, Task and Bond subscales of 12 items each, with reverse-worded items. The key "
        "could not be verified against the primary source, so it is not shipped: pass "
        "key={'reverse_items': [...], 'subscales': {...}} from your licensed manual."
    ),
)

WAI_S = Instrument(
    id="wai_s",
    name="Working Alliance Inventory - Short (WAI-S, Tracey & Kokotovic)",
    construct="alliance",
    n_items=12,
    item_min=1,
    item_max=7,
    score_min=1,
    score_max=7,
    scoring="mean",
    max_missing=0,
    missing_rule=_NO_MISSING_RULE,
    citation="Tracey & Kokotovic 1989, Psychol Assess 1(3):207-210",
    key_verified=False,
    key_required=True,
    notes=(
        "Goal, Task and Bond subscales of 4 items each. The key (subscale membership, reverse "
        "items) could not be verified against the primary source, so it is not shipped: pass "
        "key={'reverse_items': [...], 'subscales': {...}}."
    ),
)

HAQ_II = Instrument(
    id="haq_ii",
    name="Revised Helping Alliance Questionnaire (HAq-II)",
    construct="alliance",
    n_items=19,
    item_min=1,
    item_max=6,
    score_min=1,
    score_max=6,
    scoring="mean",
    reverse_items=(4, 8, 11, 16, 19),
    max_missing=0,
    missing_rule=_NO_MISSING_RULE,
    citation="Luborsky et al. 1996, J Psychother Pract Res 5(3):260-271",
    key_verified=False,
    notes=(
        "Reverse items 4, 8, 11, 16, 19 are reversed as 7 - x; they were inferred from the "
        "item wording and not checked against the published key (unverified): override with "
        "key={'reverse_items': [...]}. Default scale='mean' (1-6); scale='sum' gives 19-114. "
        "Not the rheumatology Health Assessment Questionnaire (HAQ)."
    ),
)

#: Structure shared by the PCOMS scales (SRS, ORS): four 10-cm visual-analogue lines scored
#: 0-10 (fractions allowed), summed to 0-40, higher = better.
_VISUAL_ANALOGUE_4 = dict(
    n_items=4,
    item_min=0,
    item_max=10,
    score_min=0,
    score_max=40,
    scoring="sum",
    higher_is_better=True,
    max_missing=0,
    integer_items=False,
    missing_rule="all 4 visual-analogue marks required",
    cutoff_rule="<",
    key_verified=True,
)

SRS = Instrument(
    id="srs",
    name="Session Rating Scale v3 (SRS)",
    construct="alliance",
    citation="Duncan et al. 2003, J Brief Ther 3(1):3-12",
    cutoff=36.0,
    cutoff_source="Duncan et al. 2003 (cut-off 36; sources differ on <= vs <)",
    notes=(
        "Four 10-cm visual-analogue lines scored 0-10 (fractions allowed); total 0-40. "
        "score() adds below_cutoff: total < 36 by default (cutoff_rule '<'), "
        "cutoff_inclusive=True for <= 36, because published descriptions differ."
    ),
    **_VISUAL_ANALOGUE_4,
)

OQ45 = Instrument(
    id="oq45",
    name="Outcome Questionnaire-45 (OQ-45.2)",
    construct="distress",
    n_items=45,
    item_min=0,
    item_max=4,
    score_min=0,
    score_max=180,
    scoring="sum",
    higher_is_better=False,
    max_missing=0,
    missing_rule="all 45 items required (the manual's rule for missing items is not shipped)",
    cutoff_rule=">=",
    rci=14.0,
    rci_source="Lambert's OQ system: reliable change 14 points (unverified against the manual)",
    thresholds_verified=False,
    citation="Lambert, Burlingame et al. 1996, Clin Psychol Psychother 3(4):249-258",
    key_verified=False,
    key_required=True,
    notes=(
        "45 items scored 0-4, total 0-180, higher = more distress; subscales Symptom Distress, "
        "Interpersonal Relations and Social Role Performance, with reverse-scored items. The "
        "key is proprietary and was not verified, so it is not shipped: pass key= from the "
        "manual, or load totals computed by the OQ software with scales={...: 'oq45'}. The "
        "clinical cut-off is not shipped either (published values differ; pass cutoff=)."
    ),
)

ORS = Instrument(
    id="ors",
    name="Outcome Rating Scale (ORS)",
    construct="wellbeing",
    cutoff=25.0,
    cutoff_source="Miller et al. 2003: clinical cut-off 25 for adults (unverified)",
    rci=5.0,
    rci_source="PCOMS feedback literature: reliable change 5 points (unverified)",
    thresholds_verified=False,
    citation="Miller, Duncan, Brown, Sparks & Claud 2003, J Brief Ther 2(2):91-100",
    notes=(
        "Four 10-cm visual-analogue lines (individual, interpersonal, social, overall) scored "
        "0-10, total 0-40, higher = better. score() adds below_cutoff: total < 25."
    ),
    **_VISUAL_ANALOGUE_4,
)

NRS = Instrument(
    id="nrs",
    name="Pain Numerical Rating Scale (0-10)",
    construct="pain",
    n_items=1,
    item_min=0,
    item_max=10,
    score_min=0,
    score_max=10,
    scoring="single",
    higher_is_better=False,
    max_missing=0,
    missing_rule="single item",
    mcid=2.0,
    mcid_percent=30.0,
    mcid_kind="MCID",
    mcid_source="Farrar et al. 2001, Pain 94(2):149-158; " + _OSTELO,
    citation="Farrar et al. 2001, Pain 94(2):149-158",
    notes="Integer 0-10 ratings; allow_fractional=True accepts averaged ratings.",
)

VAS = Instrument(
    id="vas",
    name="Pain Visual Analogue Scale (0-100 mm)",
    construct="pain",
    n_items=1,
    item_min=0,
    item_max=100,
    score_min=0,
    score_max=100,
    scoring="single",
    higher_is_better=False,
    integer_items=False,
    max_missing=0,
    missing_rule="single item",
    mcid=15.0,
    mcid_kind="MCID",
    mcid_source=_OSTELO,
    citation=_OSTELO,
)

_RMDQ_COMMON = dict(
    construct="function",
    item_min=0,
    item_max=1,
    score_min=0,
    scoring="sum",
    higher_is_better=False,
    blank_means=0.0,
    max_missing=None,
    missing_rule="checklist format: a blank statement counts as 'no' (0); blank_as_no=False "
    "treats blanks as missing instead",
)

RMDQ = Instrument(
    id="rmdq",
    name="Roland-Morris Disability Questionnaire (RMDQ-24)",
    n_items=24,
    score_max=24,
    mcid=5.0,
    mcid_percent=30.0,
    mcid_kind="MCID",
    mcid_source=_OSTELO,
    citation="Roland & Morris 1983, Spine 8(2):141-144",
    notes="Items coded 1 = yes (applies today), 0 = no; score = number of 'yes', 0-24.",
    **_RMDQ_COMMON,
)

RMDQ_18 = Instrument(
    id="rmdq_18",
    name="Roland-Morris Disability Questionnaire, 18-item version",
    n_items=18,
    score_max=18,
    citation="Stratford & Binkley 1997, Spine 22(20) (RM-18)",
    key_verified=False,
    notes=(
        "Items are numbered 1-18 in the short form's own order (which of the 24 statements "
        "are kept is not encoded). Count of 'yes'. No sourced MCID: pass threshold= to "
        "mcid_change. Source details unverified."
    ),
    **_RMDQ_COMMON,
)

RMDQ_11 = Instrument(
    id="rmdq_11",
    name="Roland-Morris Disability Questionnaire, 11-item version",
    n_items=11,
    score_max=11,
    citation="Stroud, McKnight & Jensen 2004, J Pain 5(5) (RMDQ-11)",
    key_verified=False,
    notes=(
        "Items are numbered 1-11 in the short form's own order (which of the 24 statements "
        "are kept is not encoded). Count of 'yes'. No sourced MCID: pass threshold= to "
        "mcid_change. Source details unverified."
    ),
    **_RMDQ_COMMON,
)

ODI = Instrument(
    id="odi",
    name="Oswestry Disability Index v2.1a (ODI)",
    construct="function",
    n_items=10,
    item_min=0,
    item_max=5,
    score_min=0,
    score_max=100,
    scoring="percent_of_answered",
    higher_is_better=False,
    max_missing=1,
    missing_rule="% = sum / (5 x sections answered) x 100 (16/50 -> 32.0; one section "
    "missing 16/45 -> 35.56); default at most 1 missing section (max_missing= to change)",
    mcid=10.0,
    mcid_percent=30.0,
    mcid_kind="MCID",
    mcid_source=_OSTELO,
    citation="Fairbank & Pynsent 2000, Spine 25(22):2940-2952",
    notes=(
        "Fairbank & Pynsent describe the denominator adjustment for a missed section; the "
        "default limit of one missing section is our conservative choice."
    ),
)

NDI = Instrument(
    id="ndi",
    name="Neck Disability Index (NDI)",
    construct="function",
    n_items=10,
    item_min=0,
    item_max=5,
    score_min=0,
    score_max=50,
    scoring="percent_of_answered",
    higher_is_better=False,
    max_missing=1,
    missing_rule="total = sum / (5 x items answered) x 50 (the ODI denominator rule); "
    "percent = total x 2; default at most 1 missing item (max_missing= to change)",
    mcid=4.7,
    mcid_kind="MDC90",
    mcid_source="Stratford 1999, Physiotherapy Canada (MDC90 4.7 of 50)",
    citation="Vernon & Mior 1991, J Manipulative Physiol Ther 14(7):409-415",
    notes="score() returns total (0-50) and percent (0-100).",
)

PSFS = Instrument(
    id="psfs",
    name="Patient-Specific Functional Scale (PSFS)",
    construct="function",
    n_items=None,
    min_items=3,
    max_items=5,
    item_min=0,
    item_max=10,
    score_min=0,
    score_max=10,
    scoring="mean",
    higher_is_better=True,
    max_missing=None,
    missing_rule="mean of the rated activities; at least 3 rated (min_answered= to change)",
    mcid=2.0,
    mcid_kind="MDC90",
    mcid_source="Stratford et al. 1995, Physiother Can 47(4) (MDC90 2 for the average "
    "score, 3 for a single activity)",
    citation="Stratford et al. 1995, Physiother Can 47(4):258-263",
    notes="3-5 patient-chosen activities rated 0 (unable) to 10 (pre-injury level).",
)

QUICKDASH = Instrument(
    id="quickdash",
    name="QuickDASH",
    construct="function",
    n_items=11,
    item_min=1,
    item_max=5,
    score_min=0,
    score_max=100,
    scoring="quickdash",
    higher_is_better=False,
    max_missing=1,
    missing_rule="((sum / n answered) - 1) x 25; not computable with more than 1 item missing",
    mcid=14.0,
    mcid_kind="MCID",
    mcid_source="Sorensen et al. 2013, J Hand Surg Am 38(4):641-649",
    citation="Beaton et al. 2005, J Bone Joint Surg Am 87(5):1038-1046",
)

GPE = Instrument(
    id="gpe",
    name="Global Perceived Effect / global rating of change (-5 to +5)",
    construct="global",
    n_items=1,
    item_min=-5,
    item_max=5,
    score_min=-5,
    score_max=5,
    scoring="single",
    higher_is_better=True,
    max_missing=0,
    missing_rule="single item",
    citation="Kamper et al. 2010, J Clin Epidemiol 63(7):760-766",
    notes=(
        "Assumes +5 = completely recovered, -5 = vastly worse; register your own version for "
        "other anchors (e.g. 1-7). Ratings strongly track current status (Kamper et al. 2010)."
    ),
)

EARS = Instrument(
    id="ears",
    name="Exercise Adherence Rating Scale (EARS, section B)",
    construct="adherence",
    n_items=6,
    item_min=0,
    item_max=4,
    score_min=0,
    score_max=24,
    scoring="sum",
    higher_is_better=True,
    max_missing=0,
    missing_rule="all 6 items required",
    mcid=5.5,
    mcid_kind="MIC",
    mcid_source="de Lira et al. 2020, BMC Musculoskelet Disord 21:294 (EARS-Br, chronic low "
    "back pain)",
    citation="Newman-Beinart et al. 2017, Physiotherapy 103(2):180-185",
    key_verified=False,
    key_required=True,
    notes=(
        "Higher = more adherent after reversal. Which items are reverse-keyed could not be "
        "verified, so the key is not shipped: pass key={'reverse_items': [...]} (use [] if "
        "your data are already recoded). The MIC of 5.5 comes from the Brazilian Portuguese "
        "version (de Lira et al. 2020, which also reports alpha .88 and ICC .91); no default "
        "reliability is set because that is a different language version."
    ),
)

ATTENDANCE = Instrument(
    id="attendance",
    name="Session attendance (attended / scheduled)",
    construct="adherence",
    n_items=2,
    item_min=0,
    item_max=float("inf"),
    score_min=0,
    score_max=1,
    scoring="ratio",
    higher_is_better=True,
    max_missing=0,
    missing_rule="item 1 = sessions attended, item 2 = sessions scheduled (> 0); both needed",
    citation="count ratio; model as binomial (attended of scheduled)",
)

EXERCISE_ADHERENCE = Instrument(
    id="exercise_adherence",
    name="Home-exercise adherence (exercises done / prescribed)",
    construct="adherence",
    n_items=2,
    item_min=0,
    item_max=float("inf"),
    score_min=0,
    score_max=1,
    scoring="ratio",
    higher_is_better=True,
    max_missing=0,
    missing_rule="item 1 = exercises done, item 2 = exercises prescribed (> 0); both needed",
    citation="count ratio; model as binomial, or Poisson with log(prescribed) offset",
)

EXERCISE_ADHERENCE_YN = Instrument(
    id="exercise_adherence_yn",
    name="Home-exercise adherence, per-session yes/no",
    construct="adherence",
    n_items=1,
    item_min=0,
    item_max=1,
    score_min=0,
    score_max=1,
    scoring="single",
    higher_is_better=True,
    max_missing=0,
    missing_rule="single item, 1 = did the home exercises, 0 = did not",
    citation="binary per-session report; model as binomial",
)

BUILTIN_INSTRUMENTS: tuple[Instrument, ...] = tuple(
    _inst.__class__(**{**_inst.to_dict(), "builtin": True})
    for _inst in (
        WAI_SR,
        WAI,
        WAI_S,
        HAQ_II,
        SRS,
        OQ45,
        ORS,
        NRS,
        VAS,
        RMDQ,
        RMDQ_18,
        RMDQ_11,
        ODI,
        NDI,
        PSFS,
        QUICKDASH,
        GPE,
        EARS,
        ATTENDANCE,
        EXERCISE_ADHERENCE,
        EXERCISE_ADHERENCE_YN,
    )
)
