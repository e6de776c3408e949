"""Command line: ``alliancestats demo | validate | init | report`` (argument parsing only).

The work is done by :mod:`alliancestats.report`: ``report`` runs a study configuration
(:func:`~alliancestats.report.build_report`), ``validate`` checks a data file
(:func:`~alliancestats.report.validate_file`), ``init`` writes the commented example
configuration, and ``demo`` runs that example on the bundled sample cohort.

Exit status: 0 success; 1 the data have validation problems (``validate``), a report section
failed (``report``, ``demo``; the report is still written) or ``init`` would overwrite a file;
2 the command could not run (bad arguments, unreadable file or configuration).

Examples
--------
>>> args = build_parser().parse_args(["validate", "sessions.csv", "--patient", "id",
...                                   "--outcome", "pain=nrs", "--covariate", "arm"])
>>> mapping_from_args(args)
{'patient': 'id', 'outcomes': {'pain': 'nrs'}, 'covariates': ['arm']}
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from alliancestats.errors import AllianceStatsError

__all__ = ["build_parser", "main", "mapping_from_args"]

#: single-column mapping options: flag -> load_sessions keyword
_SINGLE = {"patient": "patient", "session": "session", "therapist": "therapist",
           "date": "date", "layout": "layout", "wide_pattern": "wide_pattern",
           "sheet": "sheet", "delimiter": "delimiter", "encoding": "encoding",
           "planned_sessions": "planned_sessions"}


def _pairs(values: list[str] | None, flag: str) -> Any:
    """``["a=b", "c"]`` -> a dict when every item has ``=``, a list when none has."""
    if not values:
        return None
    split = [v.split("=", 1) for v in values]
    if all(len(p) == 2 for p in split):
        return {k.strip(): v.strip() for k, v in split}
    if all(len(p) == 1 for p in split):
        return [v.strip() for v in values]
    raise argparse.ArgumentTypeError(
        f"--{flag}: give either NAME=COLUMN for every value or COLUMN for every value"
    )


def mapping_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The :func:`alliancestats.load_sessions` keywords given on the command line.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed arguments of ``validate`` or ``report`` (from :func:`build_parser`).

    Returns
    -------
    dict
        Keyword arguments for :func:`alliancestats.load_sessions`.
    """
    out: dict[str, Any] = {}
    for attr, key in _SINGLE.items():
        if getattr(args, attr, None) is not None:
            out[key] = getattr(args, attr)
    for attr, key in (("alliance", "alliance"), ("outcome", "outcomes"),
                      ("covariate", "covariates"), ("instrument", "instruments"),
                      ("scale", "scales")):
        value = _pairs(getattr(args, attr, None), attr)
        if value is not None:
            out[key] = value
    if getattr(args, "na_value", None):
        out["na_values"] = list(args.na_value)
    if getattr(args, "dayfirst", False):
        out["dayfirst"] = True
    return out


def _mapping_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("column mapping (override the configuration's [data] table)")
    g.add_argument("--patient", metavar="COL", help="patient ID column")
    g.add_argument("--session", metavar="COL", help="session number (or date) column")
    g.add_argument("--therapist", metavar="COL", help="therapist ID column")
    g.add_argument("--date", metavar="COL", help="session date column")
    g.add_argument("--alliance", action="append", metavar="[NAME=]COL",
                   help="alliance column (repeat for subscales)")
    g.add_argument("--outcome", action="append", metavar="[NAME=]COL",
                   help="outcome column (repeatable)")
    g.add_argument("--covariate", action="append", metavar="COL",
                   help="covariate column (repeatable)")
    g.add_argument("--instrument", action="append", metavar="ID=PATTERN",
                   help="questionnaire scored from items, e.g. wai_sr=wai_{i}")
    g.add_argument("--scale", action="append", metavar="NAME=INSTRUMENT",
                   help="valid range of a column, e.g. pain=nrs")
    g.add_argument("--layout", choices=("long", "wide"), help="long (default) or wide")
    g.add_argument("--wide-pattern", metavar="PATTERN",
                   help="wide column names, e.g. {var}_s{session}")
    g.add_argument("--sheet", metavar="NAME", help="Excel sheet")
    g.add_argument("--delimiter", metavar="CHAR", help="text-file delimiter")
    g.add_argument("--encoding", metavar="NAME", help="text-file encoding")
    g.add_argument("--na-value", action="append", metavar="CODE",
                   help="missing-value code (repeatable)")
    g.add_argument("--dayfirst", action="store_true", help="read 05/03/2024 as 5 March")
    g.add_argument("--planned-sessions", type=int, metavar="N",
                   help="planned number of sessions")


def build_parser() -> argparse.ArgumentParser:
    """The ``alliancestats`` argument parser.

    Examples
    --------
    >>> args = build_parser().parse_args(["demo", "--out", "results"])
    >>> args.command, args.out
    ('demo', 'results')
    """
    from alliancestats import __version__

    parser = argparse.ArgumentParser(
        prog="alliancestats",
        description="Therapeutic-alliance research analysis (alliancestats).")
    parser.add_argument("--version", action="version", version=f"alliancestats {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser(
        "demo", help="report on the bundled sample cohort",
        description="Run the example study configuration (alliancestats init) on the bundled "
        "simulated physiotherapy cohort and write the report (index.md, index.html, CSV "
        "tables, PNG and SVG figures) to DIR.")
    demo.add_argument("--out", default="alliancestats-demo", metavar="DIR",
                      help="output folder (default: ./alliancestats-demo)")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")

    validate = sub.add_parser(
        "validate", help="check a data file and list every problem",
        description="Load FILE as alliancestats.load_sessions would and report rows read and "
        "kept, every problem (row as the spreadsheet shows it, column, value, reason), drops "
        "and gaps. Exit status 1 when there are problems.")
    validate.add_argument("file", nargs="?", metavar="FILE",
                          help="data file (default: the configuration's file)")
    validate.add_argument("--config", metavar="TOML", help="study configuration")
    validate.add_argument("--out", metavar="DIR", help="also write CSV files and "
                          "validation.html to DIR")
    _mapping_options(validate)

    init = sub.add_parser(
        "init", help="write a commented example study configuration",
        description="Write the commented example configuration (it runs on the bundled "
        "sample; edit [data] for your file).")
    init.add_argument("--out", default="study.toml", metavar="TOML",
                      help="file to write (default: ./study.toml)")
    init.add_argument("--data", metavar="FILE", help="your data file (set as file = ...)")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")

    report = sub.add_parser(
        "report", help="write the report of a study configuration",
        description="Run a study configuration on FILE (or its configured file) and write "
        "index.html (self-contained), index.md, CSV tables and PNG/SVG figures to DIR.")
    report.add_argument("file", nargs="?", metavar="FILE",
                        help="data file (default: the configuration's file)")
    report.add_argument("--config", required=True, metavar="TOML", help="study configuration")
    report.add_argument("--out", default="alliancestats-report", metavar="DIR",
                        help="output folder (default: ./alliancestats-report)")
    report.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def _report_status(rep: Any, name: str) -> int:
    print(rep.summary())
    for s in rep.failed:
        print(f"alliancestats {name}: section '{s.title}' failed: {s.reason}", file=sys.stderr)
    return 1 if rep.failed else 0


def _validate(args: argparse.Namespace) -> int:
    from alliancestats.report import validate_file

    rep = validate_file(args.file, args.config, out=args.out, **mapping_from_args(args))
    print(rep.text())
    for path in rep.files:
        print(f"wrote {path}")
    return 0 if rep.ok else 1


def _init(args: argparse.Namespace) -> int:
    from alliancestats.report import example_config_text

    target = Path(args.out)
    if target.exists() and not args.force:
        print(f"alliancestats init: {target} exists; use --force to overwrite", file=sys.stderr)
        return 1
    text = example_config_text()
    if args.data:
        text = text.replace('# file = "sessions.csv"\nsample = "physio_cohort"',
                            f'file = {str(Path(args.data).resolve())!r}\n'
                            '# sample = "physio_cohort"'.replace("'", '"'))
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target}: edit [data] to map your columns, check them with "
          f"`alliancestats validate --config {target}`, then run "
          f"`alliancestats report --config {target} --out results`")
    return 0


def _run(args: argparse.Namespace) -> int:
    if args.command == "demo":
        from alliancestats.report import run_demo

        return _report_status(run_demo(args.out, progress=not args.quiet), "demo")
    if args.command == "report":
        from alliancestats.report import build_report

        return _report_status(build_report(args.config, args.file, args.out,
                                           progress=not args.quiet), "report")
    if args.command == "validate":
        return _validate(args)
    return _init(args)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``alliancestats`` command; returns the exit status.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after ``alliancestats`` (default: the command line).

    Returns
    -------
    int
        Exit status: 0 success, 1 problems found or a section failed, 2 unusable input.

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
    try:
        return _run(args)
    except (AllianceStatsError, OSError, argparse.ArgumentTypeError) as exc:
        print(f"alliancestats {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
