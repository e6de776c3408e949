"""``alliancestats validate``: the loader's validation report on screen and as CSV/HTML.

The file is loaded in lenient mode, so that every problem is found in one pass (strict mode
would stop with the same list); :class:`ValidationReport` holds the counts, the problems (row
as the spreadsheet shows it, column, value, reason), the drops by kind and the gaps in session
numbers, prints them, and writes them as CSV files and one HTML page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from alliancestats._export import write_csv
from alliancestats.report.config import StudyConfig, load_config
from alliancestats.report.context import capture_warnings
from alliancestats.report.loading import load_study_data, source_name

__all__ = ["ValidationReport", "validate_file"]

#: problem lines printed on screen (all are in the CSV file)
SCREEN_LINES = 40


@dataclass
class ValidationReport:
    """The validation of one data file.

    Attributes
    ----------
    source : str
        The file (or sample) checked.
    session_data : SessionData
        What the loader kept.
    warnings : list of str
        Loader warnings (data quality notes that are not problems).
    files : list of pathlib.Path
        Files written by :meth:`write`.
    """

    source: str
    session_data: Any
    warnings: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    @property
    def problems(self) -> pd.DataFrame:
        """One line per problem (``row, column, value, reason, kind``)."""
        return self.session_data.dropped

    @property
    def ok(self) -> bool:
        """True when strict loading would accept the file (no problems)."""
        return len(self.problems) == 0

    def tables(self) -> dict[str, pd.DataFrame]:
        """The report's tables: counts, problems, problems by kind, gaps, missing values."""
        summary = self.session_data.summary()
        return {
            "counts": summary.to_frame(),
            "problems": self.problems.drop(columns=["file"], errors="ignore"),
            "problems_by_kind": summary.drops.reset_index(),
            "gaps": summary.gaps,
            "missing_values": summary.missingness.reset_index(),
        }

    def text(self) -> str:
        """The report as printed on screen."""
        sd = self.session_data
        lines = [str(sd.summary()), ""]
        if self.ok:
            lines.append(f"No problems: all {sd.n_read} rows pass validation.")
        else:
            shown = self.problems
            lines.append(f"{len(shown)} problem(s) (row = {sd.row_note}):")
            for p in shown.head(SCREEN_LINES).itertuples(index=False):
                value = "" if pd.isna(p.value) else (
                    f" = {p.value!r}" if isinstance(p.value, str) else f" = {p.value}")
                lines.append(f"  row {p.row}, column {p.column!r}{value}: {p.reason}")
            if len(shown) > SCREEN_LINES:
                lines.append(f"... {len(shown) - SCREEN_LINES} more in the CSV file")
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def write(self, out: str | Path) -> list[Path]:
        """Write ``validation_<table>.csv`` files and ``validation.html`` to ``out``.

        Parameters
        ----------
        out : str or pathlib.Path
            Folder to write to (created when missing).

        Returns
        -------
        list of pathlib.Path
            The files written.
        """
        from alliancestats import __version__
        from alliancestats.report.render import environment

        target = Path(out).expanduser().resolve()
        target.mkdir(parents=True, exist_ok=True)
        tables = self.tables()
        self.files = []
        for name, frame in tables.items():
            self.files.append(write_csv(frame, target / f"validation_{name}.csv", index=False))
        html = environment(True).get_template("validation.html.j2").render(
            source=self.source, version=__version__, ok=self.ok, tables=tables,
            summary=str(self.session_data.summary()), warnings=self.warnings,
            row_note=self.session_data.row_note)
        page = target / "validation.html"
        page.write_text(html, encoding="utf-8")
        self.files.append(page)
        return self.files


def validate_file(source: Any = None, config: Any = None, *, out: str | Path | None = None,
                  **mapping: Any) -> ValidationReport:
    """Validate a data file as ``load_sessions`` would, collecting every problem.

    Parameters
    ----------
    source : path, optional
        The file (default: the configuration's ``file`` or ``sample``).
    config : str, pathlib.Path, dict or StudyConfig, optional
        A study configuration whose [data] table gives the column mapping.
    out : str or pathlib.Path, optional
        Folder for the CSV files and ``validation.html``.
    **mapping
        :func:`alliancestats.load_sessions` keywords; they override the configuration's.

    Returns
    -------
    ValidationReport

    Examples
    --------
    >>> from alliancestats.datasets import sample_path
    >>> rep = validate_file(sample_path("physio_messy"), patient="patient_id",
    ...                     therapist="therapist", layout="wide", date="date",
    ...                     instruments={"wai_sr": "wai_{i}"}, outcomes=["pain"])
    >>> rep.ok, sorted(set(rep.problems["kind"]))[:2]
    (False, ['duplicate_id', 'future_date'])
    """
    cfg = load_config(config) if config is not None else StudyConfig(None, {}, {})
    data = {**cfg.data, **{k: v for k, v in mapping.items() if v is not None}}
    cfg = StudyConfig(cfg.path, cfg.report, data, cfg.labels, cfg.sections)
    sd, warned = capture_warnings(lambda: load_study_data(cfg, source))
    report = ValidationReport(source_name(cfg.data_source(source)), sd, warned)
    if out is not None:
        report.write(out)
    return report
