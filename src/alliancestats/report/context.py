"""State shared by the report sections: the data, the fitted models, the files written.

:class:`ReportContext` is what every section's ``run`` receives. It writes tables (CSV through
the formula-safe writer of :mod:`alliancestats._export`) and figures (PNG and SVG with text
kept as text, in the configured figure style), and it fits the configured models once, on
first use, so that the model section, the effect-size section and the trajectory figures
share the same fits.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from alliancestats._export import write_csv
from alliancestats.errors import AllianceStatsWarning, ConfigError, DroppedRowsWarning
from alliancestats.report.config import StudyConfig
from alliancestats.report.content import Figure, SectionOutput, SectionSkipped, Table

__all__ = ["FittedSpec", "ReportContext", "capture_warnings"]


def capture_warnings(fn: Callable[[], Any]) -> tuple[Any, list[str]]:
    """Run ``fn``; return its value and the alliancestats warnings it raised, as text.

    Dropped-row warnings are left out (fits report their dropped rows themselves); other
    warnings keep their usual route.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AllianceStatsWarning)
        warnings.simplefilter("ignore", DroppedRowsWarning)
        value = fn()
    messages = []
    for w in caught:
        if issubclass(w.category, AllianceStatsWarning):
            messages.append(f"{w.category.__name__}: {w.message}")
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return value, list(dict.fromkeys(messages))


@dataclass
class FittedSpec:
    """One configured model and its fit (or why it could not be fitted)."""

    spec: dict[str, Any]
    fit: Any = None
    error: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The model's name from the configuration."""
        return str(self.spec["name"])

    @property
    def response(self) -> str:
        """Left-hand side of the formula."""
        return str(self.spec["formula"]).split("~", 1)[0].strip()


@dataclass
class ReportContext:
    """What the sections share.

    Attributes
    ----------
    out : pathlib.Path
        Output folder.
    config : StudyConfig
        The checked configuration.
    source : path, DataFrame or SessionData, optional
        Data given to the report directly (instead of the configuration's file).
    session_data : SessionData or None
        The loaded data (set by the data section).
    results : dict
        Objects sections hand on to each other.
    written : list of pathlib.Path
        Files written so far.
    """

    out: Path
    config: StudyConfig
    source: Any = None
    session_data: Any = None
    results: dict[str, Any] = field(default_factory=dict)
    written: list[Path] = field(default_factory=list)
    _models: dict[str, FittedSpec] = field(default_factory=dict)
    _decomposed: pd.DataFrame | None = None

    # ----------------------------------------------------------------- data
    @property
    def data(self) -> pd.DataFrame:
        """The loaded long data; sections that need it are skipped when loading failed."""
        if self.session_data is None:
            raise SectionSkipped("the data could not be loaded (see the Data section)")
        return self.session_data.data

    def require_columns(self, columns: list[str], what: str) -> None:
        """Skip the section, naming what is missing, when ``columns`` are not in the data."""
        missing = [c for c in columns if c not in self.data.columns]
        if missing:
            shown = ", ".join(map(str, self.data.columns[:25]))
            raise SectionSkipped(
                f"{what} needs the column(s) {missing}, which the loaded data do not have "
                f"(columns: {shown}); map them in [data] or change this section's options"
            )

    def label(self, column: str) -> str:
        """Readable name of a column."""
        return self.config.label(column)

    # ----------------------------------------------------------------- files
    def table(self, out: SectionOutput, title: str, stem: str, frame: pd.DataFrame,
              caption: str = "", inline: bool | None = None,
              show: list[str] | None = None) -> Path:
        """Write ``frame`` to ``tables/<stem>.csv`` and add it to the section.

        ``show`` names the columns displayed in the report (the CSV has them all).
        """
        rel = Path("tables") / f"{stem}.csv"
        path = self.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        write_csv(frame, path, index=False)
        self.written.append(path)
        shown = frame[[c for c in show if c in frame.columns]] if show else frame
        visible = len(frame) <= self.config.report["max_rows"] if inline is None else inline
        out.blocks.append(Table(title, shown, rel, caption, visible))
        return path

    def text_file(self, out: SectionOutput, title: str, stem: str, text: str) -> Path:
        """Write plain text (a model summary) to ``tables/<stem>.txt`` and list it."""
        rel = Path("tables") / f"{stem}.txt"
        (self.out / rel).parent.mkdir(parents=True, exist_ok=True)
        (self.out / rel).write_text(text.rstrip() + "\n", encoding="utf-8")
        self.written.append(self.out / rel)
        out.files.append((title, rel))
        return self.out / rel

    def figure(self, out: SectionOutput, title: str, stem: str, figure: Any,
               caption: str = "") -> None:
        """Save a figure (Figure, Axes or array of Axes) as PNG and SVG and add it."""
        import matplotlib.pyplot as plt

        from alliancestats.plot._style import apply_style, figure_style

        style = self.config.report["style"]
        fig = apply_style(figure, style)
        rel_png, rel_svg = Path("figures") / f"{stem}.png", Path("figures") / f"{stem}.svg"
        (self.out / "figures").mkdir(parents=True, exist_ok=True)
        with figure_style(style):
            fig.savefig(self.out / rel_png, dpi=self.config.report["dpi"])
            fig.savefig(self.out / rel_svg, metadata={"Date": None})
        plt.close(fig)
        self.written += [self.out / rel_png, self.out / rel_svg]
        out.blocks.append(Figure(title, rel_png, rel_svg, caption))

    # ----------------------------------------------------------------- models
    def model_specs(self) -> list[dict[str, Any]]:
        """The configured ``[[models]]`` tables."""
        return list(self.config.sections.get("models", []))

    def _model_data(self, formula: str) -> pd.DataFrame:
        """The data with ``<x>_within`` / ``<x>_between`` added for every such term used."""
        from alliancestats.alliance import within_between

        d = self.data if self._decomposed is None else self._decomposed
        wanted = set(re.findall(r"\b([A-Za-z_][A-Za-z0-9_.]*?)_(?:within|between)\b", formula))
        todo = [v for v in sorted(wanted) if v in d.columns and f"{v}_within" not in d.columns]
        if todo:
            d = within_between(d, todo)
            self._decomposed = d
        return d

    def fitted(self, name: str) -> FittedSpec:
        """The fit of the configured model ``name`` (fitted on first request)."""
        if name in self._models:
            return self._models[name]
        specs = {s["name"]: s for s in self.model_specs()}
        if name not in specs:
            raise ConfigError(f"no [[models]] entry named {name!r}; names are {list(specs)}")
        entry = FittedSpec(specs[name])
        self._models[name] = entry
        try:
            entry.fit, entry.warnings = capture_warnings(lambda: self._fit(entry.spec))
        except SectionSkipped:
            raise
        except Exception as exc:  # the model section reports it; the report goes on
            entry.error = f"{type(exc).__name__}: {exc}"
        return entry

    def _fit(self, spec: dict[str, Any]) -> Any:
        from alliancestats.models import glmm, lmm

        data = self._model_data(spec["formula"])
        if spec["family"] == "gaussian":
            return lmm(spec["formula"], data, reml=spec["reml"])
        return glmm(spec["formula"], data, family=spec["family"])

    def all_fits(self) -> list[FittedSpec]:
        """Every configured model, fitted (failures carry their error)."""
        return [self.fitted(s["name"]) for s in self.model_specs()]
