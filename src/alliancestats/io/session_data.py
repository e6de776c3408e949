"""The loaded data set: canonical long frame, drop log, mapping and a summary.

Examples
--------
>>> import pandas as pd
>>> from alliancestats.io import load_sessions
>>> df = pd.DataFrame({"id": [1, 1, 2], "visit": [1, 2, 1], "wai": [3.5, 4.0, 2.5]})
>>> sd = load_sessions(df, patient="id", session="visit", alliance="wai")
>>> sd.n_read, sd.n_kept, sd.n_dropped
(3, 3, 0)
>>> int(sd.summary().counts["patients"])
2
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from alliancestats.io.textops import changes

__all__ = ["SessionData", "SessionSummary"]


@dataclass
class SessionSummary:
    """Tidy description of a :class:`SessionData`; ``str()`` gives a readable report.

    Attributes
    ----------
    counts : pandas.Series
        ``rows_read, rows_kept, rows_dropped, patients, therapists, sessions`` and more.
    sessions_per_patient : pandas.Series
        ``describe()`` of the number of sessions per patient.
    per_therapist : pandas.DataFrame
        Patients and sessions per therapist (empty without a therapist column).
    missingness : pandas.DataFrame
        Per column: ``n_missing``, ``percent_missing``.
    drops : pandas.DataFrame
        Per problem kind: ``problems`` (lines in :attr:`SessionData.dropped`), ``rows``
        (distinct source rows) and ``records`` (patient-session records dropped; equals
        ``rows`` for long data, larger for wide data where one row holds many sessions).
    gaps : pandas.DataFrame
        Patients missing a session number that other patients have, between their own
        first and last session (``patient, n_sessions, first, last, missing_sessions``).
    dropout : pandas.DataFrame
        Patients whose last session is before ``planned_sessions`` (or the last session
        observed in the data when no plan was given).
    notes : list of str
        What the loader decided about the source, in words: the sheet read, a detected text
        encoding, the wide columns matched, columns not kept, missing-value codes met, wide
        rows without any session value.
    missing_codes : pandas.DataFrame
        Cells read as missing because they held a missing-value code (``column, code,
        cells``); empty cells are not listed.

    Examples
    --------
    >>> import pandas as pd
    >>> from alliancestats import load_sessions
    >>> raw = pd.DataFrame({"pid": [1, 1, 2, 2, 2], "sess": [1, 3, 1, 2, 3]})
    >>> summary = load_sessions(raw, patient="pid", session="sess", warn=False).summary()
    >>> summary.gaps["patient"].tolist()
    [1]
    """

    counts: pd.Series
    sessions_per_patient: pd.Series
    per_therapist: pd.DataFrame
    missingness: pd.DataFrame
    drops: pd.DataFrame
    gaps: pd.DataFrame
    dropout: pd.DataFrame
    source: str = ""
    dropout_threshold: float | None = None
    unit: str = "rows"
    notes: list[str] = field(default_factory=list)
    missing_codes: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["column", "code", "cells"])
    )

    def __str__(self) -> str:
        c = self.counts
        lines = [f"Session data from {self.source}"]
        lines.append(
            f"  {self.unit}: {c['rows_read']} read, {c['rows_kept']} kept, "
            f"{c['rows_dropped']} dropped"
            + (f" ({c['blank_rows']} blank rows skipped)" if c.get("blank_rows", 0) else "")
        )
        who = f"  {c['patients']} patients"
        if "therapists" in c.index:
            who += f", {c['therapists']} therapists"
        lines.append(who + f", {c['sessions']} sessions")
        spp = self.sessions_per_patient
        if spp.get("count", 0):
            lines.append(
                f"  sessions per patient: median {spp['50%']:g}, range {spp['min']:g}-"
                f"{spp['max']:g}, mean {spp['mean']:.1f}"
            )
        if len(self.per_therapist):
            ppt = self.per_therapist["patients"]
            lines.append(
                f"  patients per therapist: median {ppt.median():g}, range {ppt.min()}-{ppt.max()}"
            )
        miss = self.missingness[self.missingness["n_missing"] > 0]
        if len(miss):
            lines.append("  missing values:")
            for name, r in miss.iterrows():
                lines.append(f"    {name}: {int(r['n_missing'])} ({r['percent_missing']:.1f}%)")
        else:
            lines.append("  missing values: none")
        if len(self.drops):
            lines.append("  dropped rows by reason:")
            for kind, r in self.drops.iterrows():
                lines.append(
                    f"    {kind}: {int(r['records'])} {self.unit} from {int(r['rows'])} source "
                    f"row(s), {int(r['problems'])} problem line(s)"
                )
        if len(self.gaps):
            lines.append(f"  patients with gaps in session numbers: {len(self.gaps)}")
        if c.get("patients_dates_out_of_order", 0):
            lines.append(
                "  patients with session dates out of session order: "
                f"{c['patients_dates_out_of_order']}"
            )
        if self.dropout_threshold is not None:
            lines.append(
                f"  patients whose last session is before session "
                f"{self.dropout_threshold:g}: {len(self.dropout)}"
            )
        for note in self.notes:
            lines.append(f"  note: {note}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def to_frame(self) -> pd.DataFrame:
        """The counts as a one-column DataFrame (``metric``, ``value``)."""
        return self.counts.rename_axis("metric").reset_index(name="value")


@dataclass(repr=False)
class SessionData:
    """Session-level data in canonical long form, with everything needed to trace it back.

    Attributes
    ----------
    data : pandas.DataFrame
        One row per patient-session, sorted by patient and session. Columns: ``patient``,
        ``therapist`` (when given), ``session``, ``session_date`` and ``days_since_first``
        (when dates were given), then the alliance, outcome and covariate columns under
        their standard names, and ``source_row`` (where the row came from, see
        :attr:`row_note`).
    dropped : pandas.DataFrame
        One line per problem that led to a dropped row: ``file, row, column, value, reason,
        kind`` (empty in strict mode, which raises instead).
    mapping : pandas.DataFrame
        One row per standard column: kind, source column, rater, instrument, valid range,
        variable label.
    source : str
        File path (and sheet) or ``"DataFrame"``.
    file_format : str
        ``csv``, ``excel``, ``spss``, ``stata``, ``parquet`` or ``dataframe``.
    layout : str
        ``"long"`` or ``"wide"``.
    row_note : str
        What ``source_row`` and ``dropped.row`` mean for this source.
    n_read, n_kept, n_dropped : int
        Rows (patient-session records) read, kept and dropped; ``n_read == n_kept +
        n_dropped``. For wide input, a record is one patient-session cell group.
    variable_labels : dict
        Standard column -> variable label from SPSS/Stata.
    value_labels : dict
        Standard column -> {code: label} from SPSS/Stata.
    instruments : dict
        Scored instrument id -> standard column of its total.
    n_blank : int
        Completely empty rows skipped while reading (not counted in ``n_read``).
    therapist_changes : pandas.DataFrame or None
        With ``allow_therapist_change=True``: patients seen by several therapists.
    planned_sessions : int or None
        Planned number of sessions, used for the dropout table of :meth:`summary`.
    records_by_kind : dict
        Problem kind -> number of records dropped with a problem of that kind.
    notes : list of str
        What the loader decided about the source (sheet, encoding, wide columns, columns
        not kept, ...), repeated in :meth:`summary`.
    wide_columns : pandas.DataFrame or None
        Wide layout: the columns matched, one row per column (``variable, session,
        column``).
    patients_without_sessions : pandas.DataFrame or None
        Wide layout: rows whose repeated columns are all empty (``row, patient`` and the
        unrepeated columns); such patients have no records in :attr:`data` but are not lost.
    missing_codes : pandas.DataFrame
        Cells read as missing because they held a missing-value code (``column, code,
        cells``).
    columns_not_kept : list
        Source columns not in :attr:`data` (with ``keep="declared"``, or names already
        taken by a standard column).

    Examples
    --------
    >>> import pandas as pd
    >>> from alliancestats import load_sessions
    >>> raw = pd.DataFrame({"pid": [1, 1, 2, 2], "sess": [1, 2, 1, 2],
    ...                     "wai": [4.0, 4.5, 9.0, 3.5]})
    >>> sd = load_sessions(raw, patient="pid", session="sess", alliance="wai",
    ...                    scales={"alliance": (1, 5)}, strict=False, warn=False)
    >>> sd.n_read, sd.n_kept, sd.n_dropped
    (4, 3, 1)
    >>> sd.dropped[["row", "column", "reason"]]
       row column                                    reason
    0    2    wai  outside the valid range 1-5 for alliance
    """

    data: pd.DataFrame
    dropped: pd.DataFrame
    mapping: pd.DataFrame
    source: str
    file_format: str
    layout: str
    row_note: str
    n_read: int
    n_blank: int = 0
    variable_labels: dict[str, str] = field(default_factory=dict)
    value_labels: dict[str, dict[Any, str]] = field(default_factory=dict)
    instruments: dict[str, str] = field(default_factory=dict)
    therapist_changes: pd.DataFrame | None = None
    planned_sessions: int | None = None
    records_by_kind: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    wide_columns: pd.DataFrame | None = None
    patients_without_sessions: pd.DataFrame | None = None
    missing_codes: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["column", "code", "cells"])
    )
    columns_not_kept: list[Any] = field(default_factory=list)

    @property
    def n_kept(self) -> int:
        """Rows kept in :attr:`data`."""
        return len(self.data)

    @property
    def n_dropped(self) -> int:
        """Rows dropped because of problems."""
        return self.n_read - self.n_kept

    @property
    def problems(self) -> pd.DataFrame:
        """Alias of :attr:`dropped` (same columns as ``DataValidationError.problems``)."""
        return self.dropped

    def columns_of(self, kind: str) -> list[str]:
        """Standard columns of one kind: ``"alliance"``, ``"outcome"`` or ``"covariate"``.

        Parameters
        ----------
        kind : {"alliance", "outcome", "covariate"}
            The role the columns were given in :func:`~alliancestats.load_sessions`.

        Returns
        -------
        list of str
            Their names in :attr:`data`.

        Examples
        --------
        >>> import pandas as pd
        >>> from alliancestats.io import load_sessions
        >>> df = pd.DataFrame({"id": [1], "s": [1], "nrs": [3], "odi": [20]})
        >>> load_sessions(df, patient="id", session="s", outcomes=["nrs", "odi"]).columns_of("outcome")
        ['nrs', 'odi']
        """
        return self.mapping.loc[self.mapping["kind"] == kind, "name"].tolist()

    @property
    def alliance_columns(self) -> list[str]:
        """Standard names of the alliance columns (``alliance``, ``alliance_bond``, ...)."""
        return self.columns_of("alliance")

    @property
    def outcome_columns(self) -> list[str]:
        """Standard names of the outcome columns."""
        return self.columns_of("outcome")

    @property
    def covariate_columns(self) -> list[str]:
        """Standard names of the covariate columns."""
        return self.columns_of("covariate")

    @property
    def raters(self) -> dict[str, str]:
        """Alliance column -> rater (``patient``, ``therapist``, ``observer``) where given."""
        m = self.mapping[self.mapping["rater"].notna()]
        return dict(zip(m["name"], m["rater"], strict=True))

    @property
    def n_patients(self) -> int:
        """Number of patients kept."""
        return int(self.data["patient"].nunique())

    @property
    def n_therapists(self) -> int | None:
        """Number of therapists kept (``None`` without a therapist column)."""
        if "therapist" not in self.data:
            return None
        return int(self.data["therapist"].nunique())

    def __len__(self) -> int:
        return len(self.data)

    # ------------------------------------------------------------------ summary

    def summary(self) -> SessionSummary:
        """Patients, therapists, sessions per patient, missingness, drops, gaps, dropout.

        Returns
        -------
        SessionSummary
            Tidy parts (``counts``, ``missingness``, ``drops``, ...); print it for a report.

        Examples
        --------
        >>> import pandas as pd
        >>> from alliancestats import load_sessions
        >>> raw = pd.DataFrame({"pid": [1, 1, 2], "sess": [1, 2, 1], "wai": [4.0, 4.5, 3.0]})
        >>> s = load_sessions(raw, patient="pid", session="sess", alliance="wai").summary()
        >>> s.counts[["rows_read", "patients", "sessions"]].tolist()
        [3, 2, 3]
        """
        d = self.data
        per_patient = d.groupby("patient", sort=False)["session"]
        n_sessions = per_patient.size()
        counts = {
            "rows_read": self.n_read,
            "rows_kept": self.n_kept,
            "rows_dropped": self.n_dropped,
            "blank_rows": self.n_blank,
            "patients": int(len(n_sessions)),
        }
        if "therapist" in d:
            counts["therapists"] = int(d["therapist"].nunique())
        counts["sessions"] = int(len(d))
        if self.therapist_changes is not None:
            counts["patients_changing_therapist"] = int(len(self.therapist_changes))
        if self.patients_without_sessions is not None:
            counts["patients_without_sessions"] = int(len(self.patients_without_sessions))
        spp = n_sessions.describe() if len(n_sessions) else pd.Series({"count": 0.0})
        if "therapist" in d and len(d):
            per_t = d.groupby("therapist", sort=True).agg(
                patients=("patient", "nunique"), sessions=("session", "size")
            )
        else:
            per_t = pd.DataFrame({"patients": [], "sessions": []})
        skip = {"source_row"}
        cols = [c for c in d.columns if c not in skip]
        n_miss = [int(d[c].isna().sum()) for c in cols]
        missing = pd.DataFrame(
            {
                "n_missing": n_miss,
                "percent_missing": [100.0 * m / len(d) if len(d) else 0.0 for m in n_miss],
            },
            index=pd.Index(cols, name="column"),
        )
        drops = self._drops_by_kind()
        gaps = self.gaps()
        counts["patients_with_gaps"] = int(len(gaps))
        counts["patients_dates_out_of_order"] = int(len(self.dates_out_of_order()))
        threshold, dropout = self._dropout(n_sessions)
        counts["patients_ending_early"] = int(len(dropout))
        return SessionSummary(
            counts=pd.Series(counts, dtype="int64"),
            sessions_per_patient=spp,
            per_therapist=per_t,
            missingness=missing,
            drops=drops,
            gaps=gaps,
            dropout=dropout,
            source=self.source,
            dropout_threshold=threshold,
            unit="rows" if self.layout == "long" else "patient-session records",
            notes=list(self.notes),
            missing_codes=self.missing_codes,
        )

    def _drops_by_kind(self) -> pd.DataFrame:
        if self.dropped.empty:
            return pd.DataFrame(
                {
                    "problems": pd.Series([], dtype="int64"),
                    "rows": pd.Series([], dtype="int64"),
                    "records": pd.Series([], dtype="int64"),
                },
                index=pd.Index([], name="kind"),
            )
        g = self.dropped.assign(_r=self.dropped["row"].map(repr)).groupby("kind")
        out = pd.DataFrame({"problems": g.size(), "rows": g["_r"].nunique()})
        out["records"] = [int(self.records_by_kind.get(k, r)) for k, r in out["rows"].items()]
        return out.sort_values(["records", "problems"], ascending=False).astype("int64")

    def gaps(self) -> pd.DataFrame:
        """Patients missing a session number used in the study (see :meth:`summary`)."""
        d = self.data
        columns = ["patient", "n_sessions", "first", "last", "missing_sessions"]
        if "session" not in d or not len(d):
            return pd.DataFrame(columns=columns)
        # a gap is a session number used in the study (by any patient) that lies between a
        # patient's first and last session but is absent for that patient; designs with
        # sparse time points (t0, t8) therefore have no gaps by construction. The data are
        # sorted by patient and session, so per-patient runs are contiguous.
        ok = d["session"].notna().to_numpy()
        if ok.all():  # the usual case: no copies of the columns
            patients, session = d["patient"], d["session"].to_numpy(dtype=np.int64)
        else:
            patients = d["patient"][ok]
            session = d["session"].to_numpy(dtype=float, na_value=np.nan)[ok].astype(np.int64)
        if not len(patients):
            return pd.DataFrame(columns=columns)
        codes = np.cumsum(changes(patients), dtype=np.int32 if len(ok) < 2**31 else np.int64)
        used = _distinct_sorted(session)
        starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
        ends = np.r_[starts[1:], len(codes)]
        first, last = session[starts], session[ends - 1]
        distinct = np.add.reduceat(
            np.r_[True, (codes[1:] != codes[:-1]) | (session[1:] != session[:-1])], starts
        )
        expected = np.searchsorted(used, last, side="right") - np.searchsorted(used, first)
        rows = []
        with_gaps = np.flatnonzero(expected > distinct)
        names = patients.iloc[starts[with_gaps]].tolist() if len(with_gaps) else []
        for name, k in zip(names, with_gaps, strict=True):
            have = set(session[starts[k] : ends[k]].tolist())
            missing = [int(u) for u in used if first[k] <= u <= last[k] and int(u) not in have]
            rows.append(
                (
                    name,
                    len(have),
                    int(first[k]),
                    int(last[k]),
                    ", ".join(map(str, missing)),
                )
            )
        return pd.DataFrame(rows, columns=columns)

    def dates_out_of_order(self) -> pd.DataFrame:
        """First session per patient whose date is earlier than the previous session's."""
        d = self.data
        columns = ["patient", "session", "previous_session"]
        if "session_date" not in d or not len(d):
            return pd.DataFrame(columns=columns)
        sub = d[["patient", "session", "session_date"]].dropna()
        prev_date = sub.groupby("patient", sort=False)["session_date"].cummax().shift()
        same = sub["patient"].eq(sub["patient"].shift())
        back = sub[same & (sub["session_date"] < prev_date)]
        prev_session = sub["session"].shift()[back.index]
        out = pd.DataFrame(
            {
                "patient": back["patient"].to_numpy(),
                "session": back["session"].to_numpy(),
                "previous_session": prev_session.to_numpy(),
            }
        )
        return out.drop_duplicates("patient").reset_index(drop=True)

    def _dropout(self, n_sessions: pd.Series) -> tuple[float | None, pd.DataFrame]:
        d = self.data
        if not len(d):
            return None, pd.DataFrame({"patient": [], "last_session": []})
        last = d.groupby("patient", sort=False)["session"].max()
        threshold = float(
            self.planned_sessions if self.planned_sessions is not None else last.max()
        )
        early = last[last < threshold]
        return threshold, pd.DataFrame(
            {"patient": early.index.to_numpy(), "last_session": early.to_numpy()}
        )

    # ------------------------------------------------------------------ display

    def __repr__(self) -> str:
        lines = [
            f"SessionData: {self.n_patients} patients"
            + (f", {self.n_therapists} therapists" if self.n_therapists is not None else "")
            + f", {self.n_kept} sessions ({self.layout} layout, from {self.source})",
            f"  rows read {self.n_read}, kept {self.n_kept}, dropped {self.n_dropped}"
            + (" (see .dropped)" if self.n_dropped else ""),
        ]
        roles = self.mapping[~self.mapping["kind"].isin(["id", "session", "date"])]
        for _, r in roles.iterrows():
            extra = []
            if isinstance(r["rater"], str):
                extra.append(f"{r['rater']}-rated")
            if isinstance(r["instrument"], str):
                extra.append(r["instrument"])
            if not np.isnan(r["min"]):
                extra.append(f"range {r['min']:g}-{r['max']:g}")
            tail = f" [{', '.join(extra)}]" if extra else ""
            lines.append(f"  {r['kind']:<9} {r['name']} <- {r['source_column']!r}{tail}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        import html

        head = html.escape(repr(self)).replace("\n", "<br>")
        return (
            f"<div><p style='font-family:monospace'>{head}</p>{self.data.head(10).to_html()}</div>"
        )


def _distinct_sorted(values: np.ndarray) -> np.ndarray:
    """``numpy.unique`` of integers; by counting when they are small and not negative (session
    numbers), which takes one pass instead of a sort."""
    if len(values) and values.min() >= 0 and values.max() <= 4 * len(values) + 1000:
        return np.flatnonzero(np.bincount(values))
    return np.unique(values)
