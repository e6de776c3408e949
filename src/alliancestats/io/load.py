"""``load_sessions``: read, map, reshape, validate and score session data in one call.

The function is a short orchestrator: read the cells (:mod:`.readers`), turn the column
arguments into roles (:mod:`.mapping`), build the records (:mod:`.records`, reshaping wide
data), run the named stages of :mod:`.stages` (identifiers, sessions, numeric roles, items,
covariates, read problems, row groups), then raise (strict) or drop the affected records
(lenient) and assemble :class:`SessionData`.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alliancestats._validation import check_bool, check_choice
from alliancestats.errors import (
    DataQualityWarning,
    DataValidationError,
    DroppedRowsWarning,
    InstrumentError,
    ParameterError,
)
from alliancestats.io.items import item_specs
from alliancestats.io.mapping import Role, RoleArg, build_roles, roles_frame
from alliancestats.io.missing import MissingCodes
from alliancestats.io.readers import RawTable, read_table
from alliancestats.io.records import RecordPlan, plan_records
from alliancestats.io.reshape import days_since_first
from alliancestats.io.session_data import SessionData
from alliancestats.io.stages import (
    LoadContext,
    LoadOptions,
    SessionInfo,
    identifiers,
    numeric_roles,
    read_problems,
    record_order,
    row_groups,
    scored_items,
    sessions,
)
from alliancestats.io.stages import covariates as covariate_columns
from alliancestats.io.text import TypeHints
from alliancestats.io.textops import system_allocator
from alliancestats.io.validation import PROBLEM_COLUMNS

__all__ = ["load_sessions"]

#: Roles whose source cells the checks across rows still show (duplicates, therapist changes).
_ROW_KEYS = ("patient", "therapist", "session", "session_date")


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
    keep_other_columns: bool | None = None,
    warn: bool = True,
    keep: str | Sequence[Any] = "all",
    keep_default_na: bool = True,
    thousands: str | None = None,
    normalize_ids: bool = False,
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
        Missing-value codes (e.g. ``[-99, 999, "not done"]``). By default they are added to
        the default codes ``NA``, ``N/A``, ``NaN``, ``NULL``, ``None``, ``.``, ``#N/A`` and
        ``missing`` (any letter case); with ``keep_default_na=False`` they replace them.
        Empty cells are always missing.
    keep_default_na : bool, default True
        Keep the default missing-value codes. ``False`` makes ``na_values`` the only codes,
        e.g. when ``None`` means "no medication" in a covariate.
    sheet : str or int, optional
        Excel sheet (name, or 0-based position); by default the workbook's active sheet if it
        is visible, else the first visible sheet (hidden sheets are never read by default).
        The summary says which sheet was read.
    delimiter, encoding : str, optional
        Text-file settings. The delimiter is detected by default. Text must decode strictly
        (UTF-8, or a byte-order mark); a file with no UTF-8 text is decoded with a detected
        encoding and the loader says so; a file mixing encodings is refused with the line
        and byte named.
    decimal, thousands : str, optional
        How numbers are written in text cells: decimal mark (``"."`` or ``","``, detected
        by default) and thousands separator (none by default). Without them, a value such as
        ``1,000`` is reported as ambiguous instead of being read as 1 or 1000.
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
    keep : {"all", "declared"} or list, default "all"
        Undeclared columns (not mapped to any role): ``"all"`` keeps them after the standard
        columns (numbers as numbers, text as text, SPSS/Stata labels as categories);
        ``"declared"`` keeps only the mapped columns; a list keeps those columns. Columns left
        out are listed in ``SessionData.columns_not_kept`` and the summary.
    keep_other_columns : bool, optional
        Older spelling: ``True`` is ``keep="all"``, ``False`` is ``keep="declared"``.
    normalize_ids : bool, default False
        Read whole-number IDs as numbers whatever their spelling (``007``, ``7.0`` and
        ``7`` become patient 7). By default IDs are kept exactly as written and IDs that
        differ only in such spelling are reported.
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
    The rules the loader follows (IDs, numbers, encodings, missing codes, sheets, wide
    columns) are stated in the documentation page "What the loader promises".

    ``row`` in problems and ``source_row`` in the data are what the user sees: the record
    in a text file with the header as row 1 (first data row = 2), the Excel row number, the
    SPSS/Stata case number, or the DataFrame index label. For wide input it is the row of
    the wide table. Checks: missing IDs and sessions, session numbers that are not whole
    numbers >= 0, IDs differing only in number formatting, duplicate patient-session rows
    (exact repeats: the later ones; conflicting rows: all), a patient in several wide rows,
    a patient seen by several therapists, non-numeric or ambiguous values in alliance/outcome
    columns, values outside ``scales`` or an instrument's item range, unreadable, future or
    implausibly early dates, rows with more fields than the header, unmatched quotes, Excel
    formulas without a computed value. Gaps in session numbers, early dropout and wide rows
    without any session value are reported, not treated as errors. An outcome holding two
    text values (``"Y"``/``"N"``) or booleans is kept unchanged for binomial models.

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
    with system_allocator():  # see alliancestats.io.textops.system_allocator
        _check_arguments(layout, session_type, session, date, strict, warn, keep_default_na)
        codes = MissingCodes.from_user(na_values, keep_default_na)
        if layout == "long" and session is None:  # only a date column: number sessions by date
            session, date, session_type = date, None, "date"
        roles = build_roles(
            patient=patient,
            session=session,
            therapist=therapist,
            date=date,
            alliance=alliance,
            outcomes=outcomes,
            covariates=covariates,
            alliance_rater=alliance_rater,
            scales=scales,
        )
        table = read_table(
            source,
            sheet=sheet,
            delimiter=delimiter,
            decimal=decimal,
            thousands=thousands,
            encoding=encoding,
            header_row=header_row,
            types=_type_hints(roles, instruments) if layout == "long" else None,
        )
        where = _describe_source(table)
        plan = plan_records(
            table,
            roles,
            instruments,
            wide_pattern,
            codes,
            where,
            _keep_rule(keep, keep_other_columns),
            layout,
        )
        options = LoadOptions(
            session_type=session_type,
            dayfirst=dayfirst,
            date_format=date_format,
            today=pd.Timestamp(today if today is not None else pd.Timestamp.today()).normalize(),
            earliest=pd.Timestamp(earliest_date),
            normalize_ids=check_bool("normalize_ids", normalize_ids),
            allow_therapist_change=allow_therapist_change,
            alliance_rater=alliance_rater,
        )
        ctx = LoadContext(table, plan.records, codes, table.number_format, options)
        by_name = {r.name: r for r in plan.roles}
        ids = identifiers(ctx, by_name)
        info = sessions(ctx, by_name, ~ids["patient"].missing)
        numeric_roles(ctx, plan.roles)
        scored_roles, scored = scored_items(ctx, plan.specs)
        covariate_columns(ctx, plan.roles, plan.kept)
        ctx.release(set(plan.used_columns) - {by_name[k].column for k in _ROW_KEYS if k in by_name})
        orphans = read_problems(ctx, plan.used_columns)
        changes = row_groups(ctx, by_name, ids, info)
        problems = ctx.log.frame(plan.records.rows, table.file, plan.records.order)
        if strict and len(problems):
            raise DataValidationError(_message(problems, table, where), problems)
        sd = SessionData(
            data=_assemble(ctx, plan, info, scored_roles, keep_items),
            dropped=problems,
            mapping=_mapping(plan, scored_roles, table, layout),
            source=where,
            file_format=table.format,
            layout=layout,
            row_note=table.row_note,
            n_read=ctx.n,
            n_blank=table.n_blank,
            instruments=scored,
            therapist_changes=changes if allow_therapist_change else None,
            planned_sessions=planned_sessions,
            **_records_report(ctx, plan, by_name, orphans),
        )
        sd.notes = _notes(ctx, plan, sd)
        if warn:
            _warn(sd, table, plan)
        return sd


# ============================================================================= helpers


def _records_report(
    ctx: LoadContext, plan: RecordPlan, by_name: dict[str, Role], orphans: list
) -> dict[str, Any]:
    """Labels, drops by kind, wide columns, missing codes met and columns left out."""
    return {
        "variable_labels": _standard_labels(ctx.table, plan.roles, plan.records.origin),
        "value_labels": ctx.value_labels,
        "records_by_kind": ctx.log.records_by_kind(),
        "wide_columns": plan.wide_columns,
        "patients_without_sessions": _without_sessions(ctx, plan, by_name, orphans),
        "missing_codes": _codes_table(ctx),
        "columns_not_kept": list(plan.not_kept),
    }


def _check_arguments(layout: str, session_type: str, session: Any, date: Any, *flags: Any) -> None:
    check_choice("layout", layout, ("long", "wide"))
    check_choice("session_type", session_type, ("auto", "number", "date"))
    for name, value in zip(("strict", "warn", "keep_default_na"), flags, strict=True):
        check_bool(name, value)
    if layout == "wide" and session is not None:
        raise ParameterError(
            "in wide layout the session numbers come from the column names (wide_pattern); "
            "omit session= (pass date='<variable>' for session dates such as date_s1, date_s2)"
        )
    if layout == "long" and session is None and date is None:
        raise ParameterError(
            "session= is required: the column with the session number or the session date"
        )


def _type_hints(roles: list[Role], instruments: Any) -> TypeHints:
    """Columns the text-file reader may type (numbers, dates); all others stay text."""
    numbers = {r.column for r in roles if r.numeric or r.kind in ("session", "date")}
    try:
        specs = item_specs(instruments, taken=set(), available=None)
    except (ParameterError, InstrumentError):
        specs = []  # reported with its context when the items are resolved
    numbers |= {c for spec in specs for c in spec.columns}
    plain = {r.column for r in roles if r.kind != "covariate"}  # IDs: text exactly as read
    return TypeHints(frozenset(numbers), frozenset(plain))


def _keep_rule(keep: Any, keep_other_columns: bool | None) -> Any:
    if keep_other_columns is None:
        return keep
    check_bool("keep_other_columns", keep_other_columns)
    return "all" if keep_other_columns else "declared"


def _describe_source(table: RawTable) -> str:
    if table.file is None:
        return "DataFrame"
    name = repr(Path(table.file).name)
    return f"{name} (sheet {table.sheet!r})" if table.sheet else name


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


def _mapping(plan: RecordPlan, scored: list[Role], table: RawTable, layout: str) -> pd.DataFrame:
    roles = plan.roles
    session_role = (
        [] if layout == "long" else [Role("session", f"column names ({plan.pattern})", "session")]
    )
    ordered = roles[:1] + session_role + roles[1:] + scored
    rank = {"id": 0, "session": 1, "date": 2, "alliance": 3, "outcome": 4, "covariate": 5}
    ordered = sorted(ordered, key=lambda r: rank.get(r.kind, 6))
    mapping = roles_frame(ordered, {})
    labels = _standard_labels(table, roles, plan.records.origin)
    mapping["label"] = pd.Series([labels.get(nm) for nm in mapping["name"]], dtype=object)
    return mapping


def _sorted_positions(ctx: LoadContext, keep: np.ndarray) -> tuple[np.ndarray, bool]:
    """Positions of the kept records, sorted by patient then session, and whether that is
    every record in its place (nothing to drop or move)."""
    order = record_order(ctx)
    if ctx.ordered and keep.all():
        return order, True
    return order[keep[order]], False


def _whole_numbers(values: np.ndarray) -> pd.Series:
    """Whole numbers held as float (NaN: missing) as an ``Int64`` Series."""
    missing = np.isnan(values)
    ints = np.round(np.where(missing, 0.0, values)).astype(np.int64)
    return pd.Series(pd.arrays.IntegerArray(ints, missing), copy=False)


def _source_rows(rows: np.ndarray) -> pd.Series:
    if rows.dtype == object and len(rows) and pd.api.types.infer_dtype(rows) == "integer":
        return pd.Series(rows.astype(np.int64), copy=False)
    return pd.Series(rows, copy=False)


def _assemble(
    ctx: LoadContext, plan: RecordPlan, info: SessionInfo, scored: list[Role], keep_items: bool
) -> pd.DataFrame:
    out = ctx.out
    order, identity = _sorted_positions(ctx, ~ctx.log.bad_records())
    names: list[Any] = ["patient", "therapist", "session"]
    names += [r.name for k in ("alliance", "outcome") for r in plan.roles + scored if r.kind == k]
    names += [r.name for r in plan.roles if r.kind == "covariate"]
    cols = {n: out[n] for n in names if n in out}
    if info.dates is not None:
        cols = {
            **{k: cols[k] for k in ("patient", "therapist", "session") if k in cols},
            "session_date": info.dates.reset_index(drop=True),
            **cols,
        }
    taken = set(cols) | {"days_since_first", "source_row"}
    for c, v in ctx.kept.items():
        if str(c) not in taken:
            cols[c] = v
    if keep_items:
        for c, v in ctx.item_values.items():
            cols.setdefault(c, v)
    cols["session"] = _whole_numbers(cols["session"].to_numpy(dtype=float, na_value=np.nan))
    if not identity:  # drop and sort in one take per column
        cols = {k: v.iloc[order].reset_index(drop=True) for k, v in cols.items()}
    # the columns' arrays as they are (Series would be aligned on their index one by one)
    frame = pd.DataFrame(
        {k: v.array for k, v in cols.items()}, index=pd.RangeIndex(len(order)), copy=False
    )
    rows = np.asarray(plan.records.rows)
    frame["source_row"] = _source_rows(rows if identity else rows[order])
    if info.dates is not None:
        pos = list(frame.columns).index("session_date") + 1
        frame.insert(
            pos, "days_since_first", days_since_first(frame["patient"], frame["session_date"])
        )
    return frame


def _without_sessions(
    ctx: LoadContext, plan: RecordPlan, by_name: dict[str, Role], orphans: list
) -> pd.DataFrame | None:
    """Wide rows that gave no record: the patient and the unrepeated columns as written."""
    if plan.empty_wide_rows is None:
        return None
    pos = plan.empty_wide_rows
    frame = ctx.table.frame
    pcol = by_name["patient"].column
    plain = [r.column for r in plan.roles if r.column in frame.columns and r.column != pcol]
    out = pd.DataFrame(
        {
            "row": np.asarray(ctx.table.rows, dtype=object)[pos],
            "patient": frame[pcol].iloc[pos].to_numpy(dtype=object),
        }
    )
    for c in dict.fromkeys(plain + list(plan.kept)):
        out[c] = frame[c].iloc[pos].to_numpy(dtype=object)
    problems = dict(orphans)
    out["problem"] = [problems.get(int(p)) for p in pos]
    return out


def _codes_table(ctx: LoadContext) -> pd.DataFrame:
    rows = [(col, code, n) for col, seen in ctx.codes_seen.items() for code, n in seen.items()]
    return pd.DataFrame(rows, columns=["column", "code", "cells"])


def _notes(ctx: LoadContext, plan: RecordPlan, sd: SessionData) -> list[str]:
    table = ctx.table
    notes = [n for n in (table.sheet_note, table.encoding_note) if n]
    notes += plan.notes + ctx.notes
    if sd.columns_not_kept:
        notes.append(
            "columns not kept: "
            + ", ".join(map(repr, sd.columns_not_kept[:20]))
            + (" ..." if len(sd.columns_not_kept) > 20 else "")
        )
    codes = sd.missing_codes
    if len(codes):
        shown = "; ".join(
            f"{r.code!r} x{r.cells} in {r.column!r}" for r in codes.head(10).itertuples(index=False)
        )
        notes.append(f"cells read as missing because they hold a missing-value code: {shown}")
    empty = sd.patients_without_sessions
    if empty is not None and len(empty):
        notes.append(
            f"{len(empty)} wide row(s) have no value in any session column and give no "
            f"session (rows {', '.join(map(str, empty['row'].head(10)))}); see "
            "SessionData.patients_without_sessions"
        )
    return notes


def _message(problems: pd.DataFrame, table: RawTable, where: str) -> str:
    n_rows = int(problems["row"].map(repr).nunique())
    lines = [
        f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in {n_rows} "
        f"row{'s' if n_rows != 1 else ''} of {where} (row = {table.row_note}):"
    ]
    for p in problems.head(10).itertuples(index=False):
        blank = p.value is None or (isinstance(p.value, float) and np.isnan(p.value))
        val = "" if blank else f" = {p.value!r}"
        lines.append(f"  row {p.row}, column {p.column!r}{val}: {p.reason}")
    if len(problems) > 10:
        lines.append(f"  ... and {len(problems) - 10} more")
    kinds = problems["kind"].value_counts()
    lines.append("By kind: " + ", ".join(f"{k} {v}" for k, v in kinds.items()) + ".")
    lines.append(
        "All problems are in the exception's .problems DataFrame (columns "
        + ", ".join(PROBLEM_COLUMNS)
        + "). Correct the data, or pass strict=False to drop "
        "these rows and keep the rest (SessionData.dropped lists every dropped row)."
    )
    return "\n".join(lines)


def _warn(sd: SessionData, table: RawTable, plan: RecordPlan) -> None:
    def say(message: str, category: type[Warning] = DataQualityWarning) -> None:
        warnings.warn(message, category, stacklevel=3)

    if sd.n_dropped:
        kinds = sd.dropped["kind"].value_counts()
        say(
            f"{sd.n_dropped} of {sd.n_read} rows dropped from {sd.source} ("
            + ", ".join(f"{k}: {v}" for k, v in kinds.items())
            + "); see SessionData.dropped",
            DroppedRowsWarning,
        )
    for message in [table.encoding_note, *plan.warnings]:
        if message:
            say(message)
    empty = sd.patients_without_sessions
    if empty is not None and len(empty):
        say(
            f"{len(empty)} patient row(s) of the wide table have no session values and give "
            "no records; see SessionData.patients_without_sessions"
        )
    order = sd.dates_out_of_order()
    if len(order):
        ex = order.iloc[0]
        say(
            f"{len(order)} patient(s) have session dates out of session order (e.g. patient "
            f"{ex['patient']}: session {ex['session']} dated before session "
            f"{ex['previous_session']}); check the session numbers and dates"
        )
    gaps = sd.gaps()
    if len(gaps):
        ex = gaps.iloc[0]
        say(
            f"{len(gaps)} patient(s) have gaps in their session numbers (e.g. patient "
            f"{ex['patient']}: session {ex['missing_sessions']} missing); see "
            "SessionData.summary().gaps"
        )
