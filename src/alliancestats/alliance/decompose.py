"""Split a session-level predictor into its levels, and lag it within patients.

Alliance measured at every session varies between patients (some patients form stronger
alliances than others) and within patients (a patient's alliance is higher at some sessions than
at others). The two sources answer different questions and usually have different effects on
outcome, so models enter them as separate predictors (Curran & Bauer 2011, Annu Rev Psychol 62):

* :func:`within_between` -- ``<col>_between`` (the patient's mean, grand-mean centred by
  default) and ``<col>_within`` (the session's deviation from the patient's mean);
* :func:`therapist_patient` -- ``<col>_therapist`` (the therapist's mean) and ``<col>_patient``
  (the patient's deviation from the therapist's mean), as Baldwin, Wampold & Imel (2007,
  J Consult Clin Psychol 75(6)) split alliance into therapist and patient contributions;
* :func:`lagged` -- the value at the previous session of the same patient (``<col>_lag1``), for
  lagged models of next-session outcome on current alliance (Falkenström, Granström &
  Holmqvist 2013, J Couns Psychol 60(3)).

Every function takes a DataFrame or a ``SessionData`` (from :func:`alliancestats.load_sessions`)
and returns a copy of the long table (same index and row order) with the new columns appended;
the input is never modified. A column that already has one of the new names (for
example from running the same cell twice) is replaced; input columns are never overwritten.

Examples
--------
>>> import pandas as pd
>>> from alliancestats.alliance import within_between
>>> d = pd.DataFrame({"patient": ["a", "a", "b", "b"], "alliance": [3.0, 5.0, 2.0, 2.0]})
>>> within_between(d, "alliance")[["alliance_between", "alliance_within"]].to_numpy().tolist()
[[1.0, -1.0], [1.0, 1.0], [-1.0, 0.0], [-1.0, 0.0]]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from alliancestats._validation import (
    as_frame,
    column_names,
    id_column,
    numeric_column,
    problems_frame,
    raise_problems,
    require_columns,
    require_unique_rows,
    whole_number_column,
)
from alliancestats.errors import ParameterError

__all__ = ["lagged", "therapist_patient", "within_between"]


# ---------------------------------------------------------------------------------------------
# input checks (the shared ones live in alliancestats._validation)
# ---------------------------------------------------------------------------------------------
def _check_new_names(data: pd.DataFrame, names: Sequence[str], sources: Sequence[str]) -> None:
    clash = [n for n in names if n in sources]
    if clash:
        raise ParameterError(
            f"new column name(s) {clash} would overwrite the input column(s); choose other suffixes"
        )
    if len(set(names)) != len(names):
        raise ParameterError(f"new column names repeat: {list(names)}; choose other suffixes")


def _center_value(center: Any, observed: pd.Series, patient_means: pd.Series) -> float:
    """The constant subtracted from a mean column.

    ``observed`` are the values the grand mean is taken over, ``patient_means`` one mean per
    patient (for ``center="patients"``).
    """
    if center is None:
        return 0.0
    if isinstance(center, str):
        if center == "grand":
            return float(observed.mean())
        if center == "patients":
            return float(patient_means.mean())
    elif isinstance(center, (int, float, np.integer, np.floating)) and not isinstance(center, bool):
        if not np.isfinite(center):
            raise ParameterError(f"center must be a finite number, got {center!r}")
        return float(center)
    raise ParameterError(f"center must be 'grand', 'patients', None or a number, got {center!r}")


# ---------------------------------------------------------------------------------------------
# within / between
# ---------------------------------------------------------------------------------------------
def within_between(
    data: Any,
    column: str | Sequence[str],
    *,
    patient: str = "patient",
    center: str | float | None = "grand",
    within_suffix: str = "_within",
    between_suffix: str = "_between",
) -> pd.DataFrame:
    """Split a repeated measure into between-patient and within-patient parts.

    Parameters
    ----------
    data : pandas.DataFrame or SessionData
        Long data, one row per patient-session.
    column : str or list of str
        Numeric column(s) to decompose, e.g. ``"alliance"``.
    patient : str, default "patient"
        Column identifying the patient (the cluster whose mean is taken).
    center : {"grand", "patients", None} or float, default "grand"
        Centring of the between part. ``"grand"`` subtracts the grand mean of the observed
        values (each observed session counts once), so ``<col>_between`` averages zero over
        the rows it is defined on; ``"patients"`` subtracts the mean of the patient means
        (each patient counts once); ``None`` keeps the raw patient mean; a number subtracts
        that value (e.g. a scale midpoint).
    within_suffix, between_suffix : str
        Suffixes of the new columns.

    Returns
    -------
    pandas.DataFrame
        A copy of ``data`` with ``<col>_between`` and ``<col>_within`` appended for each
        column (float), same index and row order.

    Raises
    ------
    DataValidationError
        Unknown column, non-numeric or infinite values, missing patient IDs.
    ParameterError
        Invalid ``center`` or suffixes that would overwrite an input column.

    Notes
    -----
    Person-mean centring (Curran & Bauer 2011, Annu Rev Psychol 62; Enders & Tofighi 2007,
    Psychol Methods 12(2)): with ``x_ij`` the value of patient *j* at session *i* and
    ``x̄_j`` the mean of patient *j*'s observed values,

    * ``<col>_between = x̄_j − c`` (``c`` set by ``center``),
    * ``<col>_within = x_ij − x̄_j``.

    In ``y ~ <col>_within + <col>_between`` the coefficient of the between part minus that of
    the within part is the *contextual* effect (the between-patient effect over and above the
    within-patient one). With patient-mean centring the within part is uncorrelated with the
    between part, so the two coefficients estimate the pure within- and between-patient
    effects. If alliance trends over sessions, the within part also carries that trend; add
    session (time) to the model or detrend first (Wang & Maxwell 2015, Psychol Methods 20(1)).

    Missing values: patient means are taken over the patient's non-missing values. Rows whose
    value is missing get missing values in both parts (a model using them drops the row, as it
    would with the raw column); a patient without any observed value has missing parts on
    every row.

    Validated against hand-computed values and against lme4 1.1-31: the predictors built from
    mlmRev's ``Hsb82`` (schools as the clusters, ``center=None``) reproduce the pinned fit of
    ``mAch ~ ses_within + ses_mean + (1 | school)`` (within 2.191, between 5.866; fixed
    effects within 1e-4, SEs within 1e-3 relative).

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"patient": ["a", "a", "a", "b", "b"],
    ...                   "alliance": [3.0, 4.0, None, 4.0, 5.0]})
    >>> out = within_between(d, "alliance", center=None)
    >>> out["alliance_between"].tolist()
    [3.5, 3.5, nan, 4.5, 4.5]
    >>> out["alliance_within"].tolist()
    [-0.5, 0.5, nan, -0.5, 0.5]
    >>> within_between(d, "alliance")["alliance_between"].round(2).tolist()
    [-0.5, -0.5, nan, 0.5, 0.5]
    """
    fn = "within_between"
    data = as_frame(data, fn)
    columns = column_names(column, fn)
    require_columns(data, [*columns, patient], fn)
    if patient in columns:
        raise ParameterError(f"{fn}(): {patient!r} is the patient column; it cannot be decomposed")
    new = [n for c in columns for n in (c + between_suffix, c + within_suffix)]
    _check_new_names(data, new, [*columns, patient])
    ids = id_column(data, patient, fn)
    out = data.copy()
    for c in columns:
        values = numeric_column(data, c, fn)
        present = values.notna()
        key = ids.to_numpy()
        means = values.groupby(key, sort=False).transform("mean")
        per_patient = values[present].groupby(key[present.to_numpy()], sort=False).mean()
        shift = _center_value(center, values[present], per_patient)
        out[c + between_suffix] = (means - shift).where(present)
        out[c + within_suffix] = (values - means).where(present)
    return out


# ---------------------------------------------------------------------------------------------
# therapist / patient
# ---------------------------------------------------------------------------------------------
def therapist_patient(
    data: Any,
    column: str | Sequence[str],
    *,
    therapist: str = "therapist",
    patient: str = "patient",
    level: str = "patient",
    center: str | float | None = "grand",
    within: bool = False,
    therapist_suffix: str = "_therapist",
    patient_suffix: str = "_patient",
    within_suffix: str = "_within",
) -> pd.DataFrame:
    """Split a measure into the therapist's mean and the patient's deviation from it.

    Parameters
    ----------
    data : pandas.DataFrame or SessionData
        Long data with one row per patient-session (or one row per patient); each patient is
        seen by one therapist.
    column : str or list of str
        Numeric column(s), e.g. ``"alliance"``.
    therapist, patient : str
        Columns identifying the therapist and the patient.
    level : {"patient", "session"}, default "patient"
        Which values make up the therapist mean. ``"patient"``: the mean of the therapist's
        patients' means, each patient counting once whatever their number of sessions (Baldwin
        et al. 2007 had one alliance rating per patient). ``"session"``: the mean over all of
        the therapist's observed sessions (patients with more sessions weigh more). With one
        row per patient the two agree.
    center : {"grand", "patients", None} or float, default "grand"
        Centring of the therapist part. ``"grand"`` subtracts the mean of the values the
        therapist means are made of at the chosen ``level`` (patient means for
        ``level="patient"``, session values for ``level="session"``); ``"patients"`` the mean
        of the patient means; ``None`` keeps the raw therapist mean; a number subtracts it.
    within : bool, default False
        Also add ``<col>_within`` (session value minus the patient's mean), giving the
        three-level split session / patient / therapist for session-level data.
    therapist_suffix, patient_suffix, within_suffix : str
        Suffixes of the new columns.

    Returns
    -------
    pandas.DataFrame
        A copy of ``data`` with ``<col>_therapist`` and ``<col>_patient`` (and
        ``<col>_within``) appended, float, same index and row order.

    Raises
    ------
    DataValidationError
        Unknown columns, non-numeric values, missing IDs, or a patient recorded with more
        than one therapist (the split assumes patients nested in therapists).
    ParameterError
        Invalid ``level`` or ``center``, or suffixes that would overwrite an input column.

    Notes
    -----
    With ``x̄_j`` patient *j*'s mean over observed values and ``T_k`` the therapist mean
    defined by ``level``: ``<col>_therapist = T_k − c`` and ``<col>_patient = x̄_j − T_k``
    (Baldwin, Wampold & Imel 2007, J Consult Clin Psychol 75(6); with
    ``within=True`` also ``<col>_within = x_ij − x̄_j``). Entered together in an outcome model,
    the therapist coefficient is the effect of a therapist's typical alliance and the patient
    coefficient the effect of a patient's alliance relative to the therapist's other
    patients; Baldwin et al. found the former, not the latter, predicted outcome. A therapist
    with a single patient contributes a patient part of zero, which carries no information
    about the patient effect; report caseloads alongside the model.

    Missing values: means are over non-missing values only; rows whose value is missing get
    missing values in every part, and patients without any observed value do not enter the
    therapist mean.

    Validated against hand-computed values.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"therapist": ["t1", "t1", "t1", "t2"],
    ...                   "patient": ["a", "a", "b", "c"],
    ...                   "alliance": [3.0, 5.0, 2.0, 4.0]})
    >>> out = therapist_patient(d, "alliance", center=None)
    >>> out["alliance_therapist"].tolist()
    [3.0, 3.0, 3.0, 4.0]
    >>> out["alliance_patient"].tolist()
    [1.0, 1.0, -1.0, 0.0]
    >>> therapist_patient(d, "alliance", level="session", center=None)["alliance_therapist"].tolist()
    [3.3333333333333335, 3.3333333333333335, 3.3333333333333335, 4.0]
    """
    fn = "therapist_patient"
    data = as_frame(data, fn)
    columns = column_names(column, fn)
    if level not in ("patient", "session"):
        raise ParameterError(f"level must be 'patient' or 'session', got {level!r}")
    if therapist == patient:
        raise ParameterError("therapist and patient must be different columns")
    require_columns(data, [*columns, therapist, patient], fn)
    clash = [c for c in columns if c in (therapist, patient)]
    if clash:
        raise ParameterError(f"{fn}(): {clash} are ID columns; they cannot be decomposed")
    suffixes = [therapist_suffix, patient_suffix] + ([within_suffix] if within else [])
    new = [c + s for c in columns for s in suffixes]
    _check_new_names(data, new, [*columns, therapist, patient])
    ther = id_column(data, therapist, fn)
    pat = id_column(data, patient, fn)
    therapists_per_patient = (
        pd.Series(ther.to_numpy(), index=pat.to_numpy()).groupby(level=0).nunique()
    )
    multi = therapists_per_patient[therapists_per_patient > 1]
    if len(multi):
        rows = data.index[pat.isin(multi.index).to_numpy()]
        raise_problems(
            problems_frame(
                rows,
                therapist,
                data.loc[rows, therapist].tolist(),
                "patient has several therapists",
            ),
            f"{fn}(): {len(multi)} patient(s) ({', '.join(map(str, multi.index[:5]))}) are "
            "recorded with more than one therapist; the therapist/patient split needs patients "
            "nested in therapists",
        )
    pat_key = pat.to_numpy()
    ther_key = ther.to_numpy()
    out = data.copy()
    for c in columns:
        values = numeric_column(data, c, fn)
        present = values.notna().to_numpy()
        obs = pd.DataFrame(
            {"t": ther_key[present], "p": pat_key[present], "v": values.to_numpy()[present]}
        )
        per_patient = obs.groupby("p", sort=False).agg(t=("t", "first"), v=("v", "mean"))
        if level == "session":
            tmap = obs.groupby("t", sort=False)["v"].mean()
            pool = obs["v"]
        else:
            tmap = per_patient.groupby("t", sort=False)["v"].mean()
            pool = per_patient["v"]
        pmean = pd.Series(pd.Series(pat_key).map(per_patient["v"]).to_numpy(float), data.index)
        tmean = pd.Series(pd.Series(ther_key).map(tmap).to_numpy(float), data.index)
        shift = _center_value(center, pool, per_patient["v"])
        keep = pd.Series(present, index=data.index)
        out[c + therapist_suffix] = (tmean - shift).where(keep)
        out[c + patient_suffix] = (pmean - tmean).where(keep)
        if within:
            out[c + within_suffix] = (values - pmean).where(keep)
    return out


# ---------------------------------------------------------------------------------------------
# lags
# ---------------------------------------------------------------------------------------------
def lagged(
    data: Any,
    columns: str | Sequence[str],
    *,
    patient: str = "patient",
    session: str = "session",
    lag: int = 1,
    suffix: str | None = None,
) -> pd.DataFrame:
    """Add each patient's value from ``lag`` sessions earlier (or later, for a negative lag).

    Parameters
    ----------
    data : pandas.DataFrame or SessionData
        Long data, one row per patient-session.
    columns : str or list of str
        Column(s) to lag (any dtype).
    patient : str, default "patient"
        Patient ID column; lags never cross patients.
    session : str, default "session"
        Whole-number session index (1, 2, ...); lags follow these numbers, not the row order.
    lag : int, default 1
        Sessions back. ``lag=1`` gives the previous session's value; a negative value gives a
        lead (``lag=-1``: the next session's value, e.g. next-session symptoms).
    suffix : str, optional
        Suffix of the new columns; default ``"_lag<lag>"`` (``"_lead<-lag>"`` for leads).

    Returns
    -------
    pandas.DataFrame
        A copy of ``data`` with ``<col><suffix>`` appended for each column, same index and
        row order. The new column is missing where the patient has no row at session
        ``session − lag``.

    Raises
    ------
    DataValidationError
        Unknown columns, missing patient IDs, missing or non-whole session numbers, or a
        patient with two rows for the same session.
    ParameterError
        ``lag`` not a non-zero whole number, or a suffix that would overwrite a column.

    Notes
    -----
    Gaps are respected: the lag-1 value of session 5 is the value recorded at session 4 of the
    same patient, and it is missing when there is no session-4 row (a missed or unrecorded
    session), rather than silently taking session 3's value. A row that exists but has a
    missing value gives a missing lag as well. Sort order of ``data`` does not matter.

    In lagged models of outcome on prior alliance (Falkenström, Granström & Holmqvist 2013,
    J Couns Psychol 60(3)) that also include the lagged outcome, person-mean centring combined
    with a lagged outcome biases the autoregressive coefficient in short series (Nickell
    bias; Falkenström et al. 2017, J Consult Clin Psychol 85(6)); report this limitation or
    use a cross-lagged panel model (Hamaker, Kuiper & Grasman 2015, Psychol Methods 20(1)).

    Validated against hand-computed values, including gaps and unsorted rows.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"patient": ["a", "a", "a", "b"], "session": [1, 2, 4, 1],
    ...                   "alliance": [3.0, 3.5, 4.0, 2.0]})
    >>> lagged(d, "alliance")["alliance_lag1"].tolist()
    [nan, 3.0, nan, nan]
    >>> lagged(d, "alliance", lag=-1)["alliance_lead1"].tolist()
    [3.5, nan, nan, nan]
    """
    fn = "lagged"
    data = as_frame(data, fn)
    names = column_names(columns, fn)
    if isinstance(lag, bool) or not isinstance(lag, (int, np.integer)) or lag == 0:
        raise ParameterError(f"lag must be a non-zero whole number of sessions, got {lag!r}")
    lag = int(lag)
    if suffix is None:
        suffix = f"_lag{lag}" if lag > 0 else f"_lead{-lag}"
    if patient == session:
        raise ParameterError("patient and session must be different columns")
    require_columns(data, [*names, patient, session], fn)
    new = [c + suffix for c in names]
    _check_new_names(data, new, [*names, patient, session])
    pat = id_column(data, patient, fn)
    sess = whole_number_column(data, session, fn)
    require_unique_rows(data, [pat, sess], [patient, session], fn)
    keys = pd.MultiIndex.from_arrays([pat.to_numpy(), sess.to_numpy()])
    source = pd.MultiIndex.from_arrays([pat.to_numpy(), sess.to_numpy() + lag])
    out = data.copy()
    for c, name in zip(names, new, strict=True):
        shifted = pd.Series(data[c].array, index=source)
        out[name] = shifted.reindex(keys).set_axis(data.index)
    return out

