"""Study configuration: one TOML file that says what the report contains.

The file has three fixed tables and one table per report section::

    [report]          title, figure style, resolution, inline table length
    [data]            where the data are and how columns map to roles: every keyword of
                      alliancestats.load_sessions, plus file = "..." or sample = "..."
    [labels]          readable names for columns in tables and figures
    [descriptives], [attrition], [trajectories], [[models]], [effects], [sudden_gains],
    [ruptures], [lagged], [meta] ...   one per section (see alliancestats.report.sections)

It is read with :mod:`tomllib` from the standard library. Relative paths (``file``, the
meta-analysis table) are relative to the folder of the configuration file. Unknown tables and
keys are errors with a "did you mean" hint, so that a misspelt option is never silently
ignored. ``alliancestats init`` writes a commented example (:func:`example_config_text`).

Examples
--------
>>> cfg = load_config({"data": {"sample": "physio_cohort", "patient": "patient",
...                              "session": "session"}, "report": {"title": "Pilot"}})
>>> cfg.title, cfg.data_source()
('Pilot', 'physio_cohort')
"""

from __future__ import annotations

import inspect
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from alliancestats.errors import ConfigError
from alliancestats.plot._style import STYLES
from alliancestats.report.options import Option, check_options, unknown_key_message

__all__ = [
    "DEMO_CONFIG",
    "REPORT_OPTIONS",
    "StudyConfig",
    "example_config_text",
    "load_config",
]

#: the bundled example configuration (``alliancestats init`` writes it; the demo runs it)
DEMO_CONFIG = "study_example.toml"

#: keys of the [report] table
REPORT_OPTIONS: dict[str, Option] = {
    "title": Option("str", "Study report", help="heading of the report"),
    "style": Option("str", "default", help=f"figure style: one of {', '.join(STYLES)}"),
    "dpi": Option("int", 200, help="resolution of the PNG figures"),
    "max_rows": Option("int", 30, help="tables longer than this are linked, not shown"),
    "seed": Option("int", 0, help="seed for random choices (patients drawn in figures)"),
}

_FIXED = ("report", "data", "labels")


def _data_keys() -> list[str]:
    from alliancestats.io.load import load_sessions

    names = [p for p in inspect.signature(load_sessions).parameters if p != "source"]
    return ["file", "sample", *names]


@dataclass
class StudyConfig:
    """A checked study configuration.

    Attributes
    ----------
    path : pathlib.Path or None
        File it was read from (relative paths resolve against its folder).
    report : dict
        The [report] table with defaults filled in.
    data : dict
        The [data] table: ``file`` or ``sample`` and :func:`alliancestats.load_sessions`
        keywords.
    labels : dict
        Column -> readable name.
    sections : dict
        Section key -> its checked table (a list of tables for ``[[models]]``).
    """

    path: Path | None
    report: dict[str, Any]
    data: dict[str, Any]
    labels: dict[str, str] = field(default_factory=dict)
    sections: dict[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        """The report's title."""
        return str(self.report["title"])

    @property
    def base(self) -> Path:
        """Folder that relative paths are relative to."""
        return self.path.parent if self.path is not None else Path.cwd()

    def resolve(self, value: str | Path) -> Path:
        """A path from the configuration, relative to the configuration's folder.

        Parameters
        ----------
        value : str or pathlib.Path
            The path as written in the configuration.
        """
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.base / p

    def data_source(self, override: Any = None) -> Any:
        """The data to load: ``override`` (a path or frame), else ``file``, else ``sample``.

        A bundled sample is returned by name (a str); a file as an absolute path.

        Parameters
        ----------
        override : str, pathlib.Path or pandas.DataFrame, optional
            Data given on the command line or by the caller.
        """
        if override is not None:
            return Path(override) if isinstance(override, str) else override
        if self.data.get("file"):
            return self.resolve(self.data["file"])
        if self.data.get("sample"):
            return str(self.data["sample"])
        raise ConfigError(
            "no data: give the data file on the command line (alliancestats report FILE "
            "...) or set file = \"...\" (or sample = \"...\") in the [data] table"
        )

    def load_options(self) -> dict[str, Any]:
        """The [data] keywords for :func:`alliancestats.load_sessions` (no file/sample)."""
        return {k: v for k, v in self.data.items() if k not in ("file", "sample")}

    def label(self, column: str) -> str:
        """Readable name of a column (from [labels], else the column name).

        Parameters
        ----------
        column : str
            Column name in the data.
        """
        return str(self.labels.get(column, column))


def _read(source: str | Path) -> tuple[dict[str, Any], Path]:
    path = Path(source).expanduser().resolve()
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh), path
    except FileNotFoundError:
        raise ConfigError(
            f"configuration file {str(source)!r} not found; `alliancestats init` writes an "
            "example to start from"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path.name} is not valid TOML: {exc}") from None


def _check_data(table: Any, where: str) -> dict[str, Any]:
    if not isinstance(table, Mapping):
        raise ConfigError(f"[data] in {where} must be a table, got {table!r}")
    allowed = _data_keys()
    for key in table:
        if key not in allowed:
            raise ConfigError(unknown_key_message(f"[data] in {where}", key, allowed))
    if table.get("file") and table.get("sample"):
        raise ConfigError(f"[data] in {where}: give file or sample, not both")
    return dict(table)


def _check_labels(table: Any, where: str) -> dict[str, str]:
    if not isinstance(table, Mapping) or not all(isinstance(v, str) for v in table.values()):
        raise ConfigError(f"[labels] in {where} must map column names to text, e.g. "
                          'pain = "Pain (NRS 0-10)"')
    return dict(table)


def _check_sections(raw: Mapping[str, Any], where: str) -> dict[str, Any]:
    from alliancestats.report.sections import SECTIONS

    known = {s.key: s for s in SECTIONS if s.key}
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _FIXED:
            continue
        if key not in known:
            raise ConfigError(unknown_key_message(where, key, [*_FIXED, *known]).replace(
                "has no key", "has no table"))
        section = known[key]
        if section.many:
            items = value if isinstance(value, list) else [value]
            out[key] = [check_options(f"[[{key}]] number {i + 1} in {where}", item,
                                      section.options) for i, item in enumerate(items)]
        else:
            out[key] = check_options(f"[{key}] in {where}", value, section.options)
    return out


def load_config(source: str | Path | Mapping[str, Any] | StudyConfig) -> StudyConfig:
    """Read and check a study configuration.

    Parameters
    ----------
    source : str, pathlib.Path, dict or StudyConfig
        A TOML file, or its content as a dict (relative paths then resolve against the
        current folder).

    Returns
    -------
    StudyConfig

    Raises
    ------
    ConfigError
        Missing file, invalid TOML, unknown table or key, wrong value type, or an unknown
        figure style.
    """
    if isinstance(source, StudyConfig):
        return source
    if isinstance(source, Mapping):
        raw, path, where = dict(source), None, "the configuration"
    else:
        raw, path = _read(source)
        where = path.name
    report = check_options(f"[report] in {where}", raw.get("report", {}), REPORT_OPTIONS)
    if report["style"] not in STYLES:
        raise ConfigError(f"[report] in {where}: style must be one of {sorted(STYLES)}, "
                          f"got {report['style']!r}")
    return StudyConfig(
        path=path,
        report=report,
        data=_check_data(raw.get("data", {}), where),
        labels=_check_labels(raw.get("labels", {}), where),
        sections=_check_sections(raw, where),
    )


def example_config_text() -> str:
    """The commented example configuration that ``alliancestats init`` writes.

    It runs as it is on the bundled sample ``physio_cohort`` (the demo is this file).

    Examples
    --------
    >>> "[[models]]" in example_config_text()
    True
    """
    return resources.files("alliancestats.report").joinpath(DEMO_CONFIG).read_text("utf-8")
