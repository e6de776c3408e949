"""``build_report``: run the configured sections and write the report.

Every section runs inside its own guard: a section that cannot run on the data says why
(skipped), one that fails shows its error (failed), and the report is written in any case.
Full tracebacks of failures go to ``report_errors.txt`` next to the report.
"""

from __future__ import annotations

import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alliancestats.report.config import StudyConfig, load_config
from alliancestats.report.content import SectionOutput, SectionSkipped
from alliancestats.report.context import ReportContext, capture_warnings
from alliancestats.report.loading import source_name
from alliancestats.report.render import render_html, render_markdown
from alliancestats.report.sections import SECTIONS, Section, defaults

__all__ = ["Report", "build_report"]


@dataclass
class Report:
    """A written report.

    Attributes
    ----------
    out : pathlib.Path
        Output folder.
    sections : list of SectionOutput
        Every section in report order, with its status, tables and figures.
    index_md, index_html : pathlib.Path
        The report files.
    elapsed : float
        Seconds taken.
    session_data : SessionData or None
        The loaded data (None when loading failed).
    """

    out: Path
    sections: list[SectionOutput]
    index_md: Path
    index_html: Path
    elapsed: float
    session_data: Any = None
    files: list[Path] = field(default_factory=list)

    @property
    def failed(self) -> list[SectionOutput]:
        """Sections that failed."""
        return [s for s in self.sections if s.status == "failed"]

    def section(self, key: str) -> SectionOutput:
        """The output of the section with configuration key ``key``.

        Parameters
        ----------
        key : str
            The section's key in the configuration (e.g. ``"models"``).
        """
        for s in self.sections:
            if s.key == key:
                return s
        raise KeyError(f"no section {key!r}; sections are {[s.key for s in self.sections]}")

    def summary(self) -> str:
        """What was written where, one line per section, as printed by the command."""
        lines = [f"Report written to {self.out} ({len(self.files)} files, "
                 f"{self.elapsed:.1f} s)"]
        for s in self.sections:
            state = {"ok": "", "skipped": " - not run: ", "failed": " - FAILED: "}[s.status]
            counts = f"{len(s.tables)} tables, {len(s.figures)} figures"
            lines.append(f"  {s.title}: {counts}{state}{s.reason}")
        lines.append(f"  open: {self.index_html}")
        lines.append(f"        {self.index_md}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()


def _options(section: Section, config: StudyConfig) -> Any:
    if section.key in config.sections:
        return config.sections[section.key]
    return [] if section.many else defaults(section.key)


def _run_section(ctx: ReportContext, section: Section, errors: list[str]) -> SectionOutput:
    out = SectionOutput(section.key, section.title)
    try:
        _, messages = capture_warnings(lambda: section.run(ctx, _options(section, ctx.config),
                                                           out))
        out.warnings += messages
    except SectionSkipped as why:
        out.status, out.reason = "skipped", str(why)
    except Exception as exc:  # shown in the report; the other sections still run
        out.status, out.reason = "failed", f"{type(exc).__name__}: {exc}"
        errors.append(f"[{section.key}]\n{traceback.format_exc()}")
    out.warnings = list(dict.fromkeys(out.warnings))
    return out


def _progress(sections: list[Section], progress: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(sections, desc="alliancestats report", unit="section", file=sys.stderr,
                disable=not progress, leave=False)


def build_report(
    config: Any,
    data: Any = None,
    out: str | Path = "alliancestats-report",
    *,
    progress: bool = False,
    command: str = "alliancestats report",
) -> Report:
    """Run a study configuration on data and write the report.

    Parameters
    ----------
    config : str, pathlib.Path, dict or StudyConfig
        The study configuration (a TOML file, see :func:`load_config`).
    data : str, pathlib.Path, DataFrame or SessionData, optional
        The data; default the configuration's ``file`` or ``sample``. A path or DataFrame is
        loaded with the configuration's [data] mapping; a SessionData is used as it is.
    out : str or pathlib.Path, default "alliancestats-report"
        Output folder (created; files of an earlier report are overwritten).
    progress : bool, default False
        Progress bar on standard error.
    command : str
        How the report names what made it.

    Returns
    -------
    Report
        ``index.md``, ``index.html``, the sections with their status, tables and figures.

    Raises
    ------
    ConfigError
        The configuration is invalid (nothing is written).

    Examples
    --------
    >>> import tempfile
    >>> cfg = {"data": {"sample": "physio_cohort", "patient": "patient", "session": "session",
    ...                 "outcomes": ["pain"]},
    ...        "effects": {"effect_plots": False}, "trajectories": {"measures": []}}
    >>> rep = build_report(cfg, out=tempfile.mkdtemp())
    >>> rep.section("data").status, rep.index_html.name
    ('ok', 'index.html')
    """
    start = time.perf_counter()
    cfg = load_config(config)
    target = Path(out).expanduser().resolve()
    target.mkdir(parents=True, exist_ok=True)
    ctx = ReportContext(out=target, config=cfg, source=data)
    errors: list[str] = []
    outputs = []
    chosen = [s for s in SECTIONS if s.always or s.key in cfg.sections]
    for section in _progress(chosen, progress):
        outputs.append(_run_section(ctx, section, errors))
    error_log = target / "report_errors.txt"
    if errors:
        error_log.write_text("\n\n".join(errors), encoding="utf-8")
        ctx.written.append(error_log)
    elif error_log.exists():
        error_log.unlink()
    elapsed = time.perf_counter() - start
    return _write(ctx, outputs, elapsed, command, data)


def _write(ctx: ReportContext, outputs: list[SectionOutput], elapsed: float, command: str,
           data: Any) -> Report:
    from alliancestats import __version__

    cfg = ctx.config
    try:
        source = source_name(cfg.data_source(data))
    except Exception:  # no data configured: the data section says so
        source = "no data"
    context = {
        "title": cfg.title, "version": __version__, "command": command, "source": source,
        "config_name": cfg.path.name if cfg.path else "", "elapsed": elapsed,
        "sections": outputs,
        "unconfigured": [s for s in SECTIONS if not s.always and s.key not in cfg.sections],
    }
    index_md, index_html = ctx.out / "index.md", ctx.out / "index.html"
    index_md.write_text(render_markdown(context), encoding="utf-8")
    index_html.write_text(render_html(context, ctx.out), encoding="utf-8")
    files = [*dict.fromkeys(ctx.written), index_md, index_html]
    return Report(ctx.out, outputs, index_md, index_html, elapsed, ctx.session_data, files)
