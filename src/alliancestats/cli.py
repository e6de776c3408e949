"""Command-line interface: ``alliancestats demo [--out DIR]``.

The demo loads the bundled physiotherapy sample cohort with
:func:`alliancestats.load_sessions` (validating every row and scoring the WAI-SR and ODI from
their items), writes descriptive tables (CSV) and trajectory figures (PNG and SVG) to ``DIR``
and an ``index.md`` / ``index.html`` linking everything, and prints where it all went.

The demo is a list of steps (:data:`DEMO_STEPS`); each step is a function taking the shared
:class:`DemoContext`, adding files with :meth:`DemoContext.add` and notes with
:meth:`DemoContext.note`. Later features (model results, meta-analysis) add steps to the list
without touching the others.

Examples
--------
>>> from alliancestats.cli import build_parser
>>> build_parser().parse_args(["demo", "--out", "results"]).out
'results'
"""

from __future__ import annotations

import argparse
import html
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

__all__ = [
    "DEMO_STEPS",
    "Artifact",
    "DemoContext",
    "DemoStep",
    "build_parser",
    "main",
    "run_demo",
]

WAI_ITEMS = "wai_{i}"
ODI_ITEMS = "odi_{i}"


# ---------------------------------------------------------------------------------------------
# demo machinery
# ---------------------------------------------------------------------------------------------
@dataclass
class Artifact:
    """One file written by the demo, grouped under a section of the index."""

    section: str
    title: str
    path: Path  # relative to the output directory
    description: str = ""


@dataclass
class DemoContext:
    """State shared by the demo steps.

    Attributes
    ----------
    out : pathlib.Path
        Output directory (created).
    data : pandas.DataFrame or None
        The loaded, scored long data (set by the load step).
    session_data : SessionData or None
        What :func:`alliancestats.load_sessions` returned.
    artifacts : list of Artifact
        Files written so far (the index lists them in order).
    notes : dict
        Section -> list of Markdown lines shown in the index above that section's files.
    """

    out: Path
    data: pd.DataFrame | None = None
    session_data: Any = None
    artifacts: list[Artifact] = field(default_factory=list)
    notes: dict[str, list[str]] = field(default_factory=dict)

    def add(self, section: str, title: str, filename: str, description: str = "") -> Path:
        """Register a file (relative name) and return its absolute path for writing."""
        path = self.out / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        self.artifacts.append(Artifact(section, title, Path(filename), description))
        return path

    def note(self, section: str, line: str) -> None:
        """Add a Markdown line to a section of the index."""
        self.notes.setdefault(section, []).append(line)

    def write_table(
        self, section: str, title: str, filename: str, table: pd.DataFrame, description: str = ""
    ) -> None:
        """Write ``table`` as CSV and register it."""
        table.to_csv(self.add(section, title, filename, description), index=False)

    def write_figure(
        self, section: str, title: str, stem: str, fig: Any, description: str = ""
    ) -> None:
        """Save ``fig`` as ``stem.png`` (200 dpi) and ``stem.svg`` and register both."""
        fig.savefig(self.add(section, f"{title} (PNG)", f"{stem}.png", description), dpi=200)
        fig.savefig(
            self.add(section, f"{title} (SVG)", f"{stem}.svg", description),
            metadata={"Date": None},
        )


@dataclass(frozen=True)
class DemoStep:
    """A named step of the demo: ``run(context)`` writes files and notes."""

    name: str
    run: Callable[[DemoContext], None]


# ---------------------------------------------------------------------------------------------
# steps
# ---------------------------------------------------------------------------------------------
def step_load(ctx: DemoContext) -> None:
    """Load, validate and score the bundled physiotherapy cohort."""
    from alliancestats.datasets import sample_path
    from alliancestats.io import load_sessions

    path = sample_path("physio_cohort")
    sd = load_sessions(
        path,
        patient="patient",
        session="session",
        therapist="therapist",
        date="date",
        outcomes={"pain": "pain", "rmdq": "rmdq"},
        covariates=[
            "arm",
            "modality",
            "age",
            "sex",
            "attended",
            "adhered",
            "exercises_done",
            "exercises_prescribed",
        ],
        instruments={
            "wai_sr": WAI_ITEMS,
            "odi": {"items": ODI_ITEMS, "name": "odi"},
        },
        scales={"pain": "nrs", "rmdq": "rmdq"},
        strict=False,
        warn=False,
    )
    ctx.session_data = sd
    ctx.data = sd.data
    section = "Data"
    ctx.note(
        section,
        f"Source: bundled sample `physio_cohort` ({path.name}; simulated, no patient data). "
        f"{sd.n_read} rows read, {sd.n_kept} kept, {sd.n_dropped} dropped by validation. "
        "WAI-SR (Hatcher & Gillaspy 2006) scored as item means (total and Task/Goal/Bond); "
        "ODI v2.1a scored as a percentage with the answered-sections denominator.",
    )
    ctx.write_table(
        section,
        "Scored session data",
        "tables/sessions.csv",
        sd.data,
        "one row per patient-session, canonical long layout",
    )
    ctx.write_table(
        section,
        "Validation problems",
        "tables/validation_problems.csv",
        sd.dropped,
        "one line per problem (empty when the file is clean)",
    )
    (
        ctx.add(
            section, "Load summary", "load_summary.txt", "text report of load_sessions"
        ).write_text(str(sd.summary()) + "\n", encoding="utf-8")
    )


def _patients_table(d: pd.DataFrame) -> pd.DataFrame:
    g = d.sort_values(["patient", "session"]).groupby("patient", sort=True)
    first_pain = g["pain"].first()
    last_pain = g["pain"].last()
    out = pd.DataFrame(
        {
            "therapist": g["therapist"].first(),
            "arm": g["arm"].first(),
            "age": g["age"].first(),
            "sex": g["sex"].first(),
            "sessions_recorded": g["session"].size(),
            "sessions_attended": g["attended"].sum(min_count=1),
            "last_session": g["session"].max(),
            "first_date": g["session_date"].min().dt.strftime("%Y-%m-%d"),
            "last_date": g["session_date"].max().dt.strftime("%Y-%m-%d"),
            "mean_alliance": g["alliance"].mean().round(3),
            "first_pain": first_pain,
            "last_pain": last_pain,
            "first_odi": g["odi"].first().round(2),
            "last_odi": g["odi"].last().round(2),
            "adherence_rate": g["adhered"].mean().round(3),
        }
    )
    for col in ("age", "sessions_attended"):
        values = out[col]
        if values.dropna().eq(values.dropna().round()).all():
            out[col] = values.astype("Int64")
    return out.reset_index()


def _overview_table(d: pd.DataFrame) -> pd.DataFrame:
    per_patient = d.groupby("patient")["session"].max()
    planned = int(d["session"].max())
    rows = [
        ("patients", d["patient"].nunique()),
        ("therapists", d["therapist"].nunique()),
        ("session records", len(d)),
        ("sessions attended", int(d["attended"].sum())),
        ("attendance rate", round(float(d["attended"].mean()), 3)),
        ("median sessions per patient", float(per_patient.median())),
        (f"patients with fewer than {planned} sessions", int((per_patient < planned).sum())),
        ("home-exercise adherence rate (attended sessions)", round(float(d["adhered"].mean()), 3)),
        (
            "exercises done / prescribed",
            round(
                float(
                    d["exercises_done"].sum()
                    / d.loc[d["exercises_done"].notna(), "exercises_prescribed"].sum()
                ),
                3,
            ),
        ),
        ("telehealth share of sessions", round(float((d["modality"] == "telehealth").mean()), 3)),
    ]
    return pd.DataFrame(rows, columns=["quantity", "value"])


def _missingness_table(d: pd.DataFrame) -> pd.DataFrame:
    cols = ["alliance", "pain", "odi", "rmdq", "adhered", "exercises_done"]
    attended = d["attended"] == 1
    rows = []
    for c in cols:
        rows.append(
            {
                "variable": c,
                "n_records": len(d),
                "n_missing": int(d[c].isna().sum()),
                "percent_missing": round(100 * float(d[c].isna().mean()), 2),
                "n_missing_attended": int(d.loc[attended, c].isna().sum()),
                "percent_missing_attended": round(100 * float(d.loc[attended, c].isna().mean()), 2),
            }
        )
    return pd.DataFrame(rows)


def _by_session_table(d: pd.DataFrame) -> pd.DataFrame:
    from alliancestats.plot.trajectories import session_summary

    parts = []
    for c in ("alliance", "pain", "odi", "rmdq", "adhered"):
        s = session_summary(d, c)
        s.insert(0, "variable", c)
        parts.append(s)
    out = pd.concat(parts, ignore_index=True)
    for c in ("mean", "sd", "ci_low", "ci_high"):
        out[c] = out[c].round(4)
    return out


def step_tables(ctx: DemoContext) -> None:
    """Descriptive tables: overview, patients, missingness, measures by session."""
    d = ctx.data
    section = "Descriptive tables"
    overview = _overview_table(d)
    ctx.write_table(
        section,
        "Overview",
        "tables/overview.csv",
        overview,
        "cohort size, attendance, dropout, adherence",
    )
    ctx.write_table(
        section,
        "Patients",
        "tables/patients.csv",
        _patients_table(d),
        "one row per patient: caseload, sessions, first/last pain and ODI",
    )
    ctx.write_table(
        section,
        "Missingness",
        "tables/missingness.csv",
        _missingness_table(d),
        "missing values per measure, all records and attended sessions",
    )
    ctx.write_table(
        section,
        "Alliance and outcomes by session",
        "tables/by_session.csv",
        _by_session_table(d),
        "n, mean, SD and 95% CI per session (observed cases)",
    )
    ctx.note(section, "| quantity | value |")
    ctx.note(section, "|---|---|")
    for row in overview.itertuples(index=False):
        ctx.note(section, f"| {row.quantity} | {row.value:g} |")


def step_figures(ctx: DemoContext) -> None:
    """Trajectory figures for alliance, pain and disability."""
    from matplotlib.figure import Figure

    from alliancestats.plot import trajectories

    d = ctx.data
    section = "Figures"
    specs = [
        (
            "alliance",
            "Alliance (WAI-SR mean, 1-5)",
            None,
            "alliance_trajectories",
            "Alliance over sessions",
        ),
        ("pain", "Pain (NRS 0-10)", "arm", "pain_trajectories", "Pain over sessions, by arm"),
        (
            "odi",
            "Disability (ODI %)",
            "arm",
            "odi_trajectories",
            "Disability over sessions, by arm",
        ),
    ]
    for column, ylabel, group, stem, title in specs:
        fig = Figure(figsize=(4.5, 3.2), layout="constrained")
        ax = fig.subplots()
        trajectories(d, column, group=group, n_patients=25 if group else 40, ylabel=ylabel, ax=ax)
        ctx.write_figure(
            section,
            title,
            f"figures/{stem}",
            fig,
            "thin lines: random patients; thick: mean with 95% CI",
        )
    ctx.note(
        section,
        "Thin lines are randomly chosen patients, thick lines the session means "
        "of the observed values with 95% confidence bands.",
    )


#: The demo's steps, run in order. Later features append to this list.
DEMO_STEPS: list[DemoStep] = [
    DemoStep("load and validate the sample cohort", step_load),
    DemoStep("descriptive tables", step_tables),
    DemoStep("trajectory figures", step_figures),
]


# ---------------------------------------------------------------------------------------------
# index
# ---------------------------------------------------------------------------------------------
def _sections(ctx: DemoContext) -> list[str]:
    seen: list[str] = []
    for name in [*ctx.notes, *(a.section for a in ctx.artifacts)]:
        if name not in seen:
            seen.append(name)
    return seen


def _write_index(ctx: DemoContext, elapsed: float) -> tuple[Path, Path]:
    from alliancestats import __version__

    md = [
        "# alliancestats demo",
        "",
        f"Generated by `alliancestats demo` (alliancestats {__version__}) in {elapsed:.1f} s.",
        "",
    ]
    body = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>alliancestats demo</title>',
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .6em}"
        "img{max-width:100%}</style></head><body>",
        "<h1>alliancestats demo</h1>",
        f"<p>Generated by <code>alliancestats demo</code> (alliancestats {__version__}) in "
        f"{elapsed:.1f} s.</p>",
    ]
    for section in _sections(ctx):
        md += [f"## {section}", ""]
        body.append(f"<h2>{html.escape(section)}</h2>")
        notes = ctx.notes.get(section, [])
        if notes:
            md += [*notes, ""]
            body.append(_notes_html(notes))
        items = [a for a in ctx.artifacts if a.section == section]
        body.append("<ul>")
        for a in items:
            link = a.path.as_posix()
            extra = f" — {a.description}" if a.description else ""
            md.append(f"- [{a.title}]({link}){extra}")
            body.append(
                f'<li><a href="{html.escape(link)}">{html.escape(a.title)}</a>'
                f"{html.escape(extra)}</li>"
            )
        body.append("</ul>")
        for a in items:
            if a.path.suffix == ".png":
                md.append(f"\n![{a.title}]({a.path.as_posix()})")
                body.append(
                    f'<p><img src="{html.escape(a.path.as_posix())}" '
                    f'alt="{html.escape(a.title)}"></p>'
                )
        md.append("")
    body.append("</body></html>")
    index_md = ctx.out / "index.md"
    index_html = ctx.out / "index.html"
    index_md.write_text("\n".join(md) + "\n", encoding="utf-8")
    index_html.write_text("\n".join(body) + "\n", encoding="utf-8")
    return index_md, index_html


def _inline_code(text: str) -> str:
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", text)


def _notes_html(lines: list[str]) -> str:
    """Render the few Markdown forms the steps use: paragraphs and simple pipe tables."""
    out: list[str] = []
    table: list[list[str]] = []

    def flush() -> None:
        if table:
            head, *rows = table
            out.append(
                "<table><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in head) + "</tr>"
            )
            out.extend(
                "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows
            )
            out.append("</table>")
            table.clear()

    for line in lines:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not all(set(c) <= {"-", ":"} for c in cells):
                table.append(cells)
        else:
            flush()
            out.append(f"<p>{_inline_code(html.escape(line))}</p>")
    flush()
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# entry points
# ---------------------------------------------------------------------------------------------
def run_demo(
    out: str | Path = "alliancestats-demo",
    *,
    steps: list[DemoStep] | None = None,
    progress: bool = True,
    stream: TextIO | None = None,
) -> DemoContext:
    """Run the demo steps and write the index; return the context (files in ``.artifacts``).

    Parameters
    ----------
    out : str or pathlib.Path, default "alliancestats-demo"
        Output directory (created if needed; existing demo files are overwritten).
    steps : list of DemoStep, optional
        Steps to run (default :data:`DEMO_STEPS`).
    progress : bool, default True
        Show a progress bar on standard error.
    stream : file, optional
        Where to print the closing report (default standard output).

    Returns
    -------
    DemoContext

    Examples
    --------
    >>> import io, tempfile
    >>> report = io.StringIO()
    >>> ctx = run_demo(tempfile.mkdtemp(), steps=[], progress=False, stream=report)
    >>> sorted(p.name for p in ctx.out.iterdir())
    ['index.html', 'index.md']
    """
    from tqdm.auto import tqdm

    stream = sys.stdout if stream is None else stream
    ctx = DemoContext(out=Path(out).expanduser().resolve())
    ctx.out.mkdir(parents=True, exist_ok=True)
    steps = DEMO_STEPS if steps is None else steps
    start = time.perf_counter()
    bar = tqdm(
        steps,
        desc="alliancestats demo",
        unit="step",
        file=sys.stderr,
        disable=not progress,
        leave=False,
    )
    for step in bar:
        bar.set_postfix_str(step.name)
        step.run(ctx)
    bar.close()
    index_md, index_html = _write_index(ctx, time.perf_counter() - start)
    print(f"alliancestats demo: wrote {len(ctx.artifacts) + 2} files to {ctx.out}", file=stream)
    for section in _sections(ctx):
        files = [a for a in ctx.artifacts if a.section == section]
        if files:
            print(f"  {section}:", file=stream)
            for a in files:
                print(f"    {ctx.out / a.path}", file=stream)
    print(f"  Index: {index_md}\n         {index_html}", file=stream)
    return ctx


def build_parser() -> argparse.ArgumentParser:
    """The ``alliancestats`` argument parser (sub-commands: ``demo``).

    Returns
    -------
    argparse.ArgumentParser

    Examples
    --------
    >>> args = build_parser().parse_args(["demo", "--out", "results"])
    >>> args.command, args.out
    ('demo', 'results')
    """
    from alliancestats import __version__

    parser = argparse.ArgumentParser(
        prog="alliancestats",
        description="Therapeutic-alliance research analysis (alliancestats).",
    )
    parser.add_argument("--version", action="version", version=f"alliancestats {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser(
        "demo",
        help="analyse the bundled sample cohort and write tables and figures",
        description="Load, validate and score the bundled physiotherapy sample cohort, then "
        "write descriptive tables (CSV), trajectory figures (PNG, SVG) and an index "
        "(index.md, index.html) to DIR.",
    )
    demo.add_argument(
        "--out",
        default="alliancestats-demo",
        metavar="DIR",
        help="output directory (default: ./alliancestats-demo)",
    )
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``alliancestats`` command; returns the exit status.

    Examples
    --------
    >>> try:
    ...     main(["--version"])
    ... except SystemExit as stop:
    ...     print("exit status", stop.code)
    alliancestats 0.1.0
    exit status 0
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    if args.command == "demo":
        try:
            run_demo(args.out, progress=not args.quiet)
        except OSError as exc:
            print(f"alliancestats demo: cannot write to {args.out}: {exc}", file=sys.stderr)
            return 1
        return 0
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover - argparse checks
    return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
