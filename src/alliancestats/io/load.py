"""``load_sessions``: read, map, reshape, validate and score session data in one call.

Steps, in order: read the cells (:mod:`.readers`); turn the column arguments into roles and
find their columns (:mod:`.mapping`); for wide data, reshape to one record per patient and
session (:mod:`.reshape`); convert identifiers, sessions, dates, scores and covariates cell by
cell, logging every cell that fails (:mod:`.convert`, :mod:`.validation`); score item-level
instruments (:mod:`.items`); run the row-group checks (duplicates, therapist changes); then
raise (strict) or drop the affected records (lenient) and assemble :class:`SessionData`.
"""

from __future__ import annotations

import datetime as _dt
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alliancestats.errors import (
    DataQualityWarning,
    DataValidationError,
    DroppedRowsWarning,
    ParameterError,
)
from alliancestats.io.convert import (
    MissingCodes,
    Parsed,
    _text_missing,
    parse_covariate,
    parse_dates,
    parse_ids,
    parse_numeric,
)
from alliancestats.io.items import ItemSpec, item_specs
from alliancestats.io.mapping import Role, RoleArg, build_roles, resolve_columns, roles_frame
from alliancestats.io.readers import RawTable, read_table
from alliancestats.io.reshape import (
    _stems_hint,
    compile_pattern,
    days_since_first,
    detect_wide_layout,
    session_order_from_dates,
    wide_to_long,
)
from alliancestats.io.session_data import SessionData
from alliancestats.io.validation import (
    PROBLEM_COLUMNS,
    ProblemLog,
    check_duplicate_sessions,
    check_duplicate_wide_ids,
    check_therapist_change,
)

__all__ = ["load_sessions"]

_SESSION_COL = "\x00session"  # internal name of the session column made from wide names
_MAX_SESSION = 100_000  # larger session "numbers" are typing errors (or dates typed as numbers)


def load_sessions(
    source: str | Path | pd.DataFrame,
    *,
    patient: Any,
    session: Any = None,
    therapist: Any = None,
    alliance: RoleArg = None,
    outcomes: RoleArg = None,
    covariates: RoleArg = None,
    layout: str = "long",
    strict: bool = True,
    date: Any = None,
    alliance_rater: str | Mapping[str, str] | None = None,
    scales: Mapping[str, Any] | None = None,
    instruments: Mapping[str, Any] | None = None,
    wide_pattern: str | re.Pattern | None = None,
    allow_therapist_change: bool = False,
    na_values: Sequence[Any] | None = None,
    sheet: str | int | None = None,
    delimiter: str | None = None,
    decimal: str | None = None,
    encoding: str | None = None,
    header_row: int = 1,
    session_type: str = "auto",
    dayfirst: bool | None = None,
    date_format: str | None = None,
    today: Any = None,
    earliest_date: Any = "1900-01-01",
    planned_sessions: int | None = None,
    keep_items: bool = False,
    keep_other_columns: bool = False,
    warn: bool = True,
) -> SessionData:
    """Load session-level therapy data into a validated, canonical long table.

    Reads a file (CSV/TSV, Excel, SPSS, Stata, Parquet) or a DataFrame, maps its columns to
    standard names, reshapes wide data, turns session dates into session order, scores
    item-level questionnaires, and checks every row. Nothing is written to the source file
    and no code stored in it is run.

    Parameters
    ----------
    source : str, pathlib.Path or pandas.DataFrame
        The data. Files are recognised by extension (``.csv .tsv .txt .xlsx .xlsm .sav .dta
        .parquet``).
    patient : column name
        Patient identifier.
    session : column name, optional
        Session number (whole numbers >= 0) or session date; in long layout either
        ``session`` or ``date`` is required. When it holds dates (see ``session_type``),
        sessions are numbered 1, 2, ... in date order per patient. Not used in wide layout,
        where the numbers come from the column names.
    therapist : column name, optional
        Therapist identifier. A patient seen by several therapists is an error unless
        ``allow_therapist_change=True``.
    alliance : str, list of str or dict, optional
        Alliance columns. A single name becomes ``alliance``; a dict names total and
        subscales, ``{"total": "wai", "bond": "wai_bond"}`` -> ``alliance``,
        ``alliance_bond``; a list keeps the column names.
    outcomes : str, list of str or dict, optional
        Outcome columns; a dict renames (``{"pain": "nrs_pain", "function": "odi"}``),
        names and lists keep the column names.
    covariates : str, list of str or dict, optional
        Covariates (treatment arm, modality, site, ...). Numbers stay numeric; text and SPSS/
        Stata value labels become categoricals.
    layout : {"long", "wide"}, default "long"
        ``"long"``: one row per patient-session. ``"wide"``: one row per patient with
        columns such as ``wai_s1, wai_s2`` (see ``wide_pattern``); in the column arguments
        name the variable (``alliance="wai"``).
    strict : bool, default True
        ``True``: any problem raises one :class:`~alliancestats.errors.DataValidationError`
        listing all of them. ``False``: rows with problems are dropped, each problem is
        recorded in :attr:`SessionData.dropped`, and a
        :class:`~alliancestats.errors.DroppedRowsWarning` says how many.
    date : column name, optional
        Session date, in addition to a session number (gives ``session_date`` and
        ``days_since_first``). In wide layout a repeated variable (``date_s1, ...``).
    alliance_rater : {"patient", "therapist", "observer"} or dict, optional
        Who rated the alliance (all alliance columns, or standard name -> rater).
    scales : dict, optional
        Valid ranges for out-of-range checks: standard name -> instrument id from the
        registry (``"wai_sr"``, ``"nrs"``, ``"odi"``; append ``":sum"`` for a mean-scored
        instrument entered as sums) or ``(min, max)``. Alliance subscale columns inherit the
        instrument given for ``alliance``.
    instruments : dict, optional
        Item-level questionnaires to score, e.g. ``{"wai_sr": "wai_{i}"}`` (see
        :mod:`alliancestats.io.items`). Item values outside the instrument's range are
        problems like any other.
    wide_pattern : str or re.Pattern, optional
        How wide column names encode variable and session: a template such as
        ``"{var}_s{session}"`` or ``"{var}_t{session}"``, or a regular expression with named
        groups ``var`` and ``session``. By default common templates are tried.
    allow_therapist_change : bool, default False
        Accept patients seen by more than one therapist (reported in the summary).
    na_values : list, optional
        Extra missing-value codes (e.g. ``[-99, 999, "not done"]``), besides empty cells,
        ``NA``, ``N/A``, ``NaN``, ``NULL``, ``.``, ``#N/A`` and ``missing``.
    sheet : str or int, optional
        Excel sheet (name, or 0-based position); the first by default.
    delimiter, decimal, encoding : str, optional
        Text-file settings; delimiter and decimal mark are detected by default.
    header_row : int, default 1
        Row with the column names (text and Excel files).
    session_type : {"auto", "number", "date"}, default "auto"
        How to read ``session``; "auto" treats it as dates when the column has a date type
        or its values are dates rather than numbers.
    dayfirst : bool, optional
        Read ``05/03/2024`` as 5 March (True) or 3 May (False). Needed only when the data
        do not decide it.
    date_format : str, optional
        Exact ``strftime`` format of text dates (e.g. ``"%d.%m.%Y"``).
    today : date-like, optional
        Dates after this are reported as future dates (default: today).
    earliest_date : date-like, default "1900-01-01"
        Dates before this are reported as implausible.
    planned_sessions : int, optional
        Number of planned sessions; patients whose last session comes earlier are listed
        in the summary's ``dropout`` (default: the last session seen in the data).
    keep_items : bool, default False
        Keep the item columns of scored instruments (as numbers, under their source names).
    keep_other_columns : bool, default False
        Keep columns not mapped to any role (after the standard columns).
    warn : bool, default True
        Issue :class:`~alliancestats.errors.DroppedRowsWarning` and
        :class:`~alliancestats.errors.DataQualityWarning` (gaps in session numbers).

    Returns
    -------
    SessionData
        ``.data`` (canonical long frame sorted by patient and session, with ``source_row``),
        ``.dropped``, ``.mapping``, ``.summary()``, ``n_read == n_kept + n_dropped``.

    Raises
    ------
    DataValidationError
        Strict mode with problems in the data (``.problems`` has one line per problem with
        ``file, row, column, value, reason, kind``), or in either mode when a column is not
        found, the file cannot be read, or dates are ambiguous.

    Notes
    -----
    ``row`` in problems and ``source_row`` in the data are what the user sees: the line in
    a text file with the header as row 1 (first data row = 2), the Excel row number, the
    SPSS/Stata case number, or the DataFrame index label. For wide input it is the row of
    the wide table. Checks: missing IDs and sessions, session numbers that are not whole
    numbers >= 0, duplicate patient-session rows (exact repeats: the later ones; conflicting
    rows: all), a patient in several wide rows, a patient seen by several therapists,
    non-numeric values in alliance/outcome columns, values outside ``scales`` or an
    instrument's item range, unreadable, future or implausibly early dates. Gaps in session
    numbers and early dropout are reported, not treated as errors.

    Examples
    --------
    >>> import pandas as pd
    >>> from alliancestats.io import load_sessions
    >>> raw = pd.DataFrame({
    ...     "id": [1, 1, 2, 2], "pt": ["A", "A", "B", "B"], "visit": [1, 2, 1, 2],
    ...     "wai": [3.8, 4.1, 2.9, "?"], "nrs": [6, 4, 7, 7],
    ... })
    >>> sd = load_sessions(raw, patient="id", therapist="pt", session="visit",
    ...                    alliance="wai", outcomes={"pain": "nrs"},
    ...                    scales={"alliance": "wai_sr", "pain": "nrs"}, strict=False, warn=False)
    >>> sd.data[["patient", "session", "alliance", "pain", "source_row"]]
       patient  session  alliance  pain  source_row
    0        1        1       3.8   6.0           0
    1        1        2       4.1   4.0           1
    2        2        1       2.9   7.0           2
    >>> sd.dropped[["row", "column", "value", "reason"]]
       row column value        reason
    0    3    wai     ?  not a number

    Wide data (one row per patient):

    >>> wide = pd.DataFrame({"id": [1, 2], "wai_s1": [3.8, 2.9], "wai_s2": [4.1, None]})
    >>> load_sessions(wide, patient="id", alliance="wai", layout="wide").data
       patient  session  alliance  source_row
    0        1        1       3.8           0
    1        1        2       4.1           0
    2        2        1       2.9           1
    """
    if layout not in ("long", "wide"):
        raise ParameterError(f"layout must be 'long' or 'wide', not {layout!r}")
    if session_type not in ("auto", "number", "date"):
        raise ParameterError(
            f"session_type must be 'auto', 'number' or 'date', not {session_type!r}"
        )
    if layout == "wide" and session is not None:
        raise ParameterError(
            "in wide layout the session numbers come from the column names (wide_pattern); "
            "omit session= (pass date='<variable>' for session dates such as date_s1, date_s2)"
        )
    if layout == "long" and session is None and date is None:
        raise ParameterError(
            "session= is required: the column with the session number or the session date"
        )
    codes = MissingCodes.from_user(na_values)
    table = read_table(
        source,
        sheet=sheet,
        delimiter=delimiter,
        decimal=decimal,
        encoding=encoding,
        header_row=header_row,
    )
    where = _describe_source(table)

    session_arg, date_arg = session, date
    if layout == "long" and session is None:  # only a date column: number sessions by date
        session_arg, date_arg, session_type = date, None, "date"
    roles = build_roles(
        patient=patient,
        session=session_arg,
        therapist=therapist,
        date=date_arg,
        alliance=alliance,
        outcomes=outcomes,
        covariates=covariates,
        alliance_rater=alliance_rater,
        scales=scales,
    )
    taken = {r.name for r in roles} | {
        "session",
        "session_date",
        "days_since_first",
        "source_row",
        "therapist",
        "patient",
    }

    # ---------------------------------------------------------------- records
    if layout == "long":
        roles = resolve_columns(roles, list(table.frame.columns), where=where)
        specs = item_specs(instruments, taken=taken, available=list(table.frame.columns))
        specs = _resolve_items(specs, list(table.frame.columns), where)
        _refuse_repeated(
            [r.column for r in roles] + [c for s in specs for c in s.columns], table, where
        )
        records = table.frame
        rows = np.asarray(table.rows, dtype=object)
        order = np.arange(len(records))
        origin: dict[Any, np.ndarray] = {}
        wide_pos = None
        used = {r.column for r in roles} | {c for s in specs for c in s.columns}
        others = [c for c in table.frame.columns if c not in used] if keep_other_columns else []
    else:
        records, rows, order, origin, wide_pos, roles, specs, others, used_pattern = _reshape_wide(
            table, roles, instruments, taken, wide_pattern, codes, where, keep_other_columns
        )
    n = len(records)
    log = ProblemLog(n)

    def shown(role_col: Any) -> Any:
        """Column name to show in problems: the wide column for repeated variables."""
        return origin.get(role_col, role_col)

    def raw(col: Any) -> np.ndarray:
        return records[col].to_numpy(dtype=object)

    by_name = {r.name: r for r in roles}
    out: dict[str, pd.Series] = {}

    # ---------------------------------------------------------------- identifiers
    ids: dict[str, Parsed] = {}
    for name in ("patient", "therapist"):
        if name not in by_name:
            continue
        r = by_name[name]
        p = parse_ids(records[r.column], codes)
        miss = np.flatnonzero(p.missing)
        log.add(
            miss,
            shown(r.column),
            raw(r.column)[miss],
            f"{name} ID is empty; fill it in or delete the row",
            "missing_id",
        )
        ids[name] = p
        out[name] = p.values
    id_ok = ~ids["patient"].missing

    # ---------------------------------------------------------------- session and dates
    today_ts = pd.Timestamp(today if today is not None else _dt.date.today()).normalize()
    earliest_ts = pd.Timestamp(earliest_date)
    session_ok = np.ones(n, dtype=bool)
    session_from_dates = False
    dates: pd.Series | None = None
    date_col: Any = None
    if layout == "wide":
        out["session"] = pd.Series(records[_SESSION_COL].to_numpy(), dtype="Int64")
        session_values = records[_SESSION_COL].to_numpy(dtype=object)
        session_shown: Any = np.asarray([shown(by_name["patient"].column)] * n, dtype=object)
    else:
        r = by_name["session"]
        s = records[r.column]
        kind = session_type if session_type != "auto" else _guess_session_type(s, codes)
        session_values = raw(r.column)
        session_shown = r.column
        if kind == "number":
            p = parse_numeric(s, table.decimal or ".", codes)
            v = p.values.to_numpy()
            miss = np.flatnonzero(p.missing)
            log.add(
                miss, r.column, session_values[miss], "session number is empty", "missing_session"
            )
            bad = np.flatnonzero(p.bad)
            log.add(
                bad,
                r.column,
                session_values[bad],
                [_session_reason(p.reason_at(i, "not a number")) for i in bad],
                "bad_session",
            )
            with np.errstate(invalid="ignore"):
                not_whole = ~np.isnan(v) & ((v != np.round(v)) | (v < 0) | (v > _MAX_SESSION))
            nw = np.flatnonzero(not_whole)
            log.add(
                nw,
                r.column,
                session_values[nw],
                f"session number must be a whole number from 0 to {_MAX_SESSION:,}",
                "bad_session",
            )
            session_ok = ~(p.missing | p.bad | not_whole)
            sess = pd.Series(v, dtype="float64")
            sess[~session_ok] = np.nan
            out["session"] = sess
        else:
            session_from_dates = True
            date_col = r.column
            pdates = parse_dates(
                s, codes, dayfirst=dayfirst, date_format=date_format, column=r.column
            )
            miss = np.flatnonzero(pdates.missing)
            log.add(
                miss, r.column, session_values[miss], "session date is empty", "missing_session"
            )
            date_ok = _check_dates(log, pdates, r.column, session_values, today_ts, earliest_ts)
            session_ok = date_ok & ~pdates.missing
            dates = pdates.values.where(session_ok)
            out["session"] = pd.Series(
                session_order_from_dates(out["patient"], dates, session_ok & id_ok)
            )
    if "session_date" in by_name:
        r = by_name["session_date"]
        date_col = r.column
        pdates = parse_dates(
            records[r.column], codes, dayfirst=dayfirst, date_format=date_format, column=r.column
        )
        ok = _check_dates(log, pdates, shown(r.column), raw(r.column), today_ts, earliest_ts)
        dates = pdates.values.where(ok & ~pdates.missing)
    key_ok = id_ok & session_ok

    # ---------------------------------------------------------------- numeric roles
    decimal_mark = table.decimal or "."
    for r in roles:
        if not r.numeric:
            continue
        p = parse_numeric(records[r.column], decimal_mark, codes)
        vals = raw(r.column)
        bad = np.flatnonzero(p.bad)
        col_shown = shown(r.column)
        log.add(
            bad,
            _at(col_shown, bad),
            vals[bad],
            [p.reason_at(i, "not a number") for i in bad],
            "not_numeric",
        )
        v = p.values
        if r.valid_range is not None:
            lo, hi = r.valid_range
            arr = v.to_numpy()
            with np.errstate(invalid="ignore"):
                outside = np.flatnonzero(~np.isnan(arr) & ((arr < lo) | (arr > hi)))
            src = f" of {r.instrument}" if r.instrument else ""
            log.add(
                outside,
                _at(col_shown, outside),
                vals[outside],
                f"outside the valid range {lo:g}-{hi:g}{src} for {r.name}",
                "out_of_range",
            )
            v = v.mask((v < lo) | (v > hi))
        out[r.name] = v

    # ---------------------------------------------------------------- item-level scoring
    scored_roles: list[Role] = []
    item_values: dict[Any, pd.Series] = {}
    scored_instruments: dict[str, str] = {}
    for spec in specs:
        new_roles, new_cols, items = _score_items(
            spec, records, codes, decimal_mark, log, shown, alliance_rater
        )
        scored_roles.extend(new_roles)
        out.update(new_cols)
        item_values.update(items)
        scored_instruments[spec.instrument.id] = spec.name

    # ---------------------------------------------------------------- covariates
    value_labels: dict[str, dict] = {}
    for r in roles:
        if r.kind != "covariate":
            continue
        labs = _labels_for(table.value_labels, r.column, origin)
        out[r.name] = parse_covariate(records[r.column], decimal_mark, codes, labs)
        if labs:
            value_labels[r.name] = labs
    for r in roles:  # numeric roles keep their codes; the labels are kept as metadata
        labs = _labels_for(table.value_labels, r.column, origin) if r.numeric else None
        if labs:
            value_labels[r.name] = labs
    other_out = {}
    for c in others:
        other_out[c] = parse_covariate(
            records[c], decimal_mark, codes, _labels_for(table.value_labels, c, origin)
        )

    # ---------------------------------------------------------------- row-group checks
    if wide_pos is not None:
        pcol = by_name["patient"].column
        dup = check_duplicate_wide_ids(
            log, id_ok, wide_pos, out["patient"], table.rows, pcol, raw(pcol)
        )
        key_ok = key_ok & ~dup
    compare = pd.DataFrame({k: v.astype(object) for k, v in out.items()})
    compare = pd.concat(
        [compare, pd.DataFrame({("__", k): v.astype(object) for k, v in item_values.items()})],
        axis=1,
    )
    if dates is not None:
        compare["__date"] = dates.astype(object)
    check_duplicate_sessions(
        log,
        key_ok,
        out["patient"],
        out["session"],
        compare,
        rows,
        _at(session_shown, None) if not session_from_dates else date_col,
        session_values,
        session_from_dates,
    )
    changes = None
    if "therapist" in by_name:
        t_ok = id_ok & ~ids["therapist"].missing
        tcol = by_name["therapist"].column
        changes = check_therapist_change(
            None if allow_therapist_change else log,
            t_ok,
            out["patient"],
            out["therapist"],
            rows,
            shown(tcol),
            raw(tcol),
        )

    # ---------------------------------------------------------------- strict / lenient
    problems = log.frame(rows, table.file, order)
    if strict and len(problems):
        raise DataValidationError(_message(problems, log, table, where), problems)
    keep = ~log.bad_records()

    data = _assemble(
        out, dates, roles, scored_roles, specs, item_values, other_out, keep, rows, keep_items
    )
    labels = _standard_labels(table, roles, origin)
    session_role = (
        [] if layout == "long" else [Role("session", f"column names ({used_pattern})", "session")]
    )
    ordered = roles[:1] + session_role + roles[1:] + scored_roles
    rank = {"id": 0, "session": 1, "date": 2, "alliance": 3, "outcome": 4, "covariate": 5}
    ordered = sorted(ordered, key=lambda r: rank.get(r.kind, 6))
    mapping = roles_frame(ordered, {})
    mapping["label"] = pd.Series([labels.get(nm) for nm in mapping["name"]], dtype=object)
    sd = SessionData(
        data=data,
        dropped=problems,
        mapping=mapping,
        source=where,
        file_format=table.format,
        layout=layout,
        row_note=table.row_note,
        n_read=n,
        n_blank=table.n_blank,
        variable_labels=labels,
        value_labels=value_labels,
        instruments=scored_instruments,
        therapist_changes=changes if allow_therapist_change else None,
        planned_sessions=planned_sessions,
        records_by_kind=log.records_by_kind(),
    )
    if warn:
        _warn(sd)
    return sd


# ============================================================================= helpers


def _describe_source(table: RawTable) -> str:
    if table.file is None:
        return "DataFrame"
    name = repr(Path(table.file).name)
    return f"{name} (sheet {table.sheet!r})" if table.sheet else name


def _at(col: Any, positions: np.ndarray | None) -> Any:
    if isinstance(col, np.ndarray) and positions is not None:
        return col[positions]
    return col


def _session_reason(reason: str) -> str:
    return reason.replace("not a number", "session number is not a number", 1)


def _guess_session_type(s: pd.Series, codes: MissingCodes) -> str:
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return "date"
    if pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
        return "number"
    obj = s.astype(object)
    present = ~_text_missing(obj, codes)
    vals = obj[present]
    if not len(vals):
        return "number"
    is_date_obj = vals.map(lambda v: isinstance(v, _dt.date | pd.Timestamp)).to_numpy()
    if is_date_obj.mean() > 0.5:
        return "date"
    num = parse_numeric(vals, ".", codes, explain=False)
    num_c = parse_numeric(vals, ",", codes, explain=False)
    frac_num = 1 - min(num.bad.mean(), num_c.bad.mean())
    texts = vals[vals.map(lambda v: isinstance(v, str))].astype(str)
    months = r"(?i:\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s)"
    looks_date = texts.str.contains(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}|" + months, regex=True)
    frac_date = float(looks_date.sum()) / len(vals)
    return "date" if frac_date > frac_num else "number"


def _check_dates(
    log: ProblemLog,
    p: Parsed,
    col: Any,
    raw_vals: np.ndarray,
    today: pd.Timestamp,
    earliest: pd.Timestamp,
) -> np.ndarray:
    bad = np.flatnonzero(p.bad)
    log.add(
        bad, _at(col, bad), raw_vals[bad], [p.reason_at(i, "not a date") for i in bad], "bad_date"
    )
    d = p.values
    future = np.flatnonzero((d.dt.normalize() > today).fillna(False).to_numpy(dtype=bool))
    log.add(
        future,
        _at(col, future),
        raw_vals[future],
        f"date is in the future (after {today.date()}); check the year",
        "future_date",
    )
    early = np.flatnonzero((d < earliest).fillna(False).to_numpy(dtype=bool))
    log.add(
        early,
        _at(col, early),
        raw_vals[early],
        f"date is before {earliest.date()}; check the year",
        "implausible_date",
    )
    ok = np.ones(len(d), dtype=bool)
    ok[bad] = ok[future] = ok[early] = False
    return ok


def _refuse_repeated(used: list[Any], table: RawTable, where: str) -> None:
    """A column name that occurs twice in the header cannot be mapped unambiguously."""
    clash = [c for c in dict.fromkeys(used) if c in table.repeated]
    if clash:
        text = "; ".join(f"{c!r} in columns {', '.join(table.repeated[c])}" for c in clash)
        k = len(clash)
        raise DataValidationError(
            f"column name(s) used more than once in the header of {where}: {text}. Rename "
            "them so that each name is unique, then load again.",
            pd.DataFrame(
                {
                    "file": [table.file] * k,
                    "row": [table.header_row] * k,
                    "column": clash,
                    "value": [None] * k,
                    "reason": ["column name occurs more than once"] * k,
                    "kind": ["repeated_column"] * k,
                }
            ),
        )


def _resolve_items(specs: list[ItemSpec], available: list[Any], where: str) -> list[ItemSpec]:
    out = []
    for spec in specs:
        fake = [
            Role(f"{spec.instrument.id} item {k + 1}", c, "outcome")
            for k, c in enumerate(spec.columns)
        ]
        resolved = resolve_columns(fake, available, where=where)
        out.append(replace(spec, columns=[r.column for r in resolved]))
    return out


def _reshape_wide(
    table: RawTable,
    roles: list[Role],
    instruments: Any,
    taken: set[str],
    pattern: Any,
    codes: MissingCodes,
    where: str,
    keep_other: bool,
) -> tuple:
    columns = list(table.frame.columns)
    folded_plain = {str(c).strip().casefold() for c in columns}
    # variables referred to by roles that are not plain columns must be repeated ones
    wanted = [
        r.column
        for r in roles
        if r.kind not in ("id",) and str(r.column).strip().casefold() not in folded_plain
    ]
    # item templates: expand against stems later; collect template stems now
    pre_specs = item_specs(instruments, taken=set(taken), available=None)
    for spec in pre_specs:
        wanted.extend(c for c in spec.columns if str(c).strip().casefold() not in folded_plain)
    if not wanted:
        raise ParameterError(
            "layout='wide' needs at least one repeated variable (e.g. alliance='wai' for "
            "columns wai_s1, wai_s2, ...)"
        )
    lay = detect_wide_layout(columns, wanted, pattern)
    rx = compile_pattern(lay.pattern)
    _refuse_repeated(
        [c for c in table.repeated if (m := rx.fullmatch(str(c).strip())) and m["var"] in lay.cells]
        + [r.column for r in roles if r.kind == "id" or r.column in columns],
        table,
        where,
    )
    stems = list(lay.cells)
    stem_fold = {str(s).strip().casefold(): s for s in stems}
    new_roles = []
    plain_roles = []
    for r in roles:
        key = str(r.column).strip().casefold()
        if r.kind != "id" and r.column not in columns and key in stem_fold:
            new_roles.append(replace(r, column=stem_fold[key]))
        elif r.kind != "id" and r.column in stem_fold.values():
            new_roles.append(r)
        else:
            plain_roles.append(r)
            new_roles.append(r)
    try:
        resolved_plain = resolve_columns(plain_roles, lay.plain, where=where)
    except DataValidationError as err:
        hint = _stems_hint(columns, [lay.pattern], [r.column for r in plain_roles])
        raise DataValidationError(
            f"{err}\nWith pattern {lay.pattern!r}{hint}", err.problems
        ) from None
    fixed = {id(a): b for a, b in zip(plain_roles, resolved_plain, strict=True)}
    new_roles = [fixed.get(id(r), r) for r in new_roles]
    specs = item_specs(instruments, taken=taken, available=stems + lay.plain)
    specs = _resolve_items(specs, stems + lay.plain, where)
    plain_needed = [r.column for r in new_roles if r.column in lay.plain]
    plain_needed += [c for s in specs for c in s.columns if c in lay.plain]
    others: list[Any] = []
    if keep_other:
        others = [c for c in lay.plain if c not in plain_needed]
        plain_needed += others
    plain_needed = list(dict.fromkeys(plain_needed))
    long, wide_pos, origin = wide_to_long(table.frame, lay, plain_needed, codes)
    long = long.rename(columns={"session": _SESSION_COL})
    if table.text_cells:  # keep text cells in the fast string dtype after reshaping
        long = long.astype({c: "str" for c in long.columns if c != _SESSION_COL})
    rows = np.asarray(table.rows, dtype=object)[wide_pos]
    order = np.arange(len(long))
    return long, rows, order, origin, wide_pos, new_roles, specs, others, lay.pattern


def _score_items(
    spec: ItemSpec,
    records: pd.DataFrame,
    codes: MissingCodes,
    decimal: str,
    log: ProblemLog,
    shown: Any,
    rater: Any,
) -> tuple[list[Role], dict[str, pd.Series], dict[Any, pd.Series]]:
    from alliancestats.instruments import score

    n = len(records)
    cleaned = {}
    numeric = {}
    for k, col in enumerate(spec.columns):
        s = records[col]
        p = parse_numeric(s, decimal, codes)
        if p.bad.any():  # keep the offending cells so the scorer can name them
            obj = s.astype(object).to_numpy(copy=True)
            vals = np.where(p.bad, obj, p.values.to_numpy().astype(object))
            vals[p.missing] = np.nan
            cleaned[f"item{k + 1}"] = pd.Series(vals, dtype=object)
        else:
            cleaned[f"item{k + 1}"] = p.values.reset_index(drop=True)
        numeric[col] = p.values
    items = pd.DataFrame(cleaned, index=pd.RangeIndex(n))
    options = dict(spec.options)
    scores, problems = score(spec.instrument, items, return_problems=True, **options)
    for _, pr in problems.iterrows():
        i = int(pr["row"])
        col = spec.columns[int(pr["item"]) - 1]
        shown_col = _at(shown(col), np.array([i]))
        shown_col = shown_col[0] if isinstance(shown_col, np.ndarray) else shown_col
        log.add(
            np.array([i]),
            shown_col,
            records[col].to_numpy(dtype=object)[[i]],
            f"{spec.instrument.id} item {int(pr['item'])}: {pr['reason']}",
            "invalid_item",
        )
    parts = ["total"] + list(spec.instrument.subscales)
    roles, cols = [], {}
    for part in parts:
        if part not in scores:
            continue
        name = spec.output_name(part)
        r_rater = None
        if spec.kind == "alliance":
            r_rater = rater if isinstance(rater, str) else (rater or {}).get(name)
        roles.append(
            Role(
                name,
                f"{spec.instrument.id}: {part}",
                spec.kind,
                rater=r_rater,
                instrument=spec.instrument.id,
            )
        )
        cols[name] = pd.Series(scores[part].to_numpy(dtype=float), dtype="float64")
    return roles, cols, numeric


def _labels_for(value_labels: dict, column: Any, origin: dict) -> dict | None:
    if column in value_labels:
        return value_labels[column]
    if column in origin:
        for c in origin[column]:
            if c in value_labels:
                return value_labels[c]
    return None


def _standard_labels(table: RawTable, roles: list[Role], origin: dict) -> dict[str, str]:
    labels = {}
    for r in roles:
        lab = table.variable_labels.get(r.column)
        if lab is None and r.column in origin:
            firsts = [c for c in origin[r.column] if c is not None]
            if firsts:
                lab = table.variable_labels.get(firsts[0])
        if lab:
            labels[r.name] = lab
    return labels


def _assemble(
    out: dict[str, pd.Series],
    dates: pd.Series | None,
    roles: list[Role],
    scored: list[Role],
    specs: list[ItemSpec],
    item_values: dict,
    other_out: dict,
    keep: np.ndarray,
    rows: np.ndarray,
    keep_items: bool,
) -> pd.DataFrame:
    cols: dict[Any, Any] = {}
    cols["patient"] = out["patient"]
    if "therapist" in out:
        cols["therapist"] = out["therapist"]
    cols["session"] = out["session"]
    if dates is not None:
        cols["session_date"] = dates
    order_kinds = ("alliance", "outcome")
    all_roles = roles + scored
    for kind in order_kinds:
        for r in all_roles:
            if r.kind == kind:
                cols[r.name] = out[r.name]
    for r in roles:
        if r.kind == "covariate":
            cols[r.name] = out[r.name]
    for c, v in other_out.items():
        if c not in cols:
            cols[c] = v
    if keep_items:
        for c, v in item_values.items():
            if c not in cols:
                cols[c] = v
    frame = pd.DataFrame({k: pd.Series(v).reset_index(drop=True) for k, v in cols.items()})
    frame["source_row"] = pd.Series(list(rows), dtype=object)
    frame = frame[keep].reset_index(drop=True)
    frame["session"] = (
        frame["session"].round().astype("Int64")
        if len(frame)
        else (frame["session"].astype("Int64"))
    )
    frame["source_row"] = _tidy_rows(frame["source_row"])
    frame = frame.sort_values(["patient", "session"], kind="stable").reset_index(drop=True)
    if dates is not None:
        pos = list(frame.columns).index("session_date") + 1
        frame.insert(
            pos, "days_since_first", days_since_first(frame["patient"], frame["session_date"])
        )
    return frame


def _tidy_rows(s: pd.Series) -> pd.Series:
    vals = s.tolist()
    if all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in vals):
        return pd.Series(vals, dtype="int64")
    return s


def _message(problems: pd.DataFrame, log: ProblemLog, table: RawTable, where: str) -> str:
    n_rows = int(problems["row"].map(repr).nunique())
    head = (
        f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in {n_rows} "
        f"row{'s' if n_rows != 1 else ''} of {where} (row = {table.row_note}):"
    )
    lines = [head]
    shown_n = 10
    for _, p in problems.head(shown_n).iterrows():
        val = (
            ""
            if p["value"] is None or (isinstance(p["value"], float) and np.isnan(p["value"]))
            else f" = {p['value']!r}"
        )
        lines.append(f"  row {p['row']}, column {p['column']!r}{val}: {p['reason']}")
    if len(problems) > shown_n:
        lines.append(f"  ... and {len(problems) - shown_n} more")
    kinds = problems["kind"].value_counts()
    lines.append("By kind: " + ", ".join(f"{k} {v}" for k, v in kinds.items()) + ".")
    lines.append(
        "All problems are in the exception's .problems DataFrame (columns "
        + ", ".join(PROBLEM_COLUMNS)
        + "). Correct the data, or pass strict=False to drop "
        "these rows and keep the rest (SessionData.dropped lists every dropped row)."
    )
    return "\n".join(lines)


def _warn(sd: SessionData) -> None:
    if sd.n_dropped:
        kinds = sd.dropped["kind"].value_counts()
        warnings.warn(
            f"{sd.n_dropped} of {sd.n_read} rows dropped from {sd.source} ("
            + ", ".join(f"{k}: {v}" for k, v in kinds.items())
            + "); see SessionData.dropped",
            DroppedRowsWarning,
            stacklevel=3,
        )
    order = sd._dates_out_of_order()
    if len(order):
        ex = order.iloc[0]
        warnings.warn(
            f"{len(order)} patient(s) have session dates out of session order (e.g. patient "
            f"{ex['patient']}: session {ex['session']} dated before session "
            f"{ex['previous_session']}); check the session numbers and dates",
            DataQualityWarning,
            stacklevel=3,
        )
    gaps = sd._gaps()
    if len(gaps):
        ex = gaps.iloc[0]
        warnings.warn(
            f"{len(gaps)} patient(s) have gaps in their session numbers (e.g. patient "
            f"{ex['patient']}: session {ex['missing_sessions']} missing); see "
            "SessionData.summary().gaps",
            DataQualityWarning,
            stacklevel=3,
        )
