"""Bundled sample data: simulated session-level cohorts and published study-level tables.

The files live in ``data/sample/`` of the source tree and are shipped inside the wheel as
``alliancestats/_sample_data`` (hatch ``force-include``), so :func:`read_sample` works after a
plain ``pip install .`` as well as in an editable or source checkout. ``data/sample/README.md``
is the data dictionary: every column of every file, the generating parameters and seeds
(``scripts/make_sample_data.py`` regenerates the simulated files), and the citations of the
published tables.

Examples
--------
>>> from alliancestats.datasets import list_samples, read_sample
>>> "physio_cohort" in set(list_samples()["name"])
True
>>> read_sample("molloy2014").shape
(16, 11)
"""

from __future__ import annotations

import contextlib
import importlib.resources
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path

import pandas as pd

from alliancestats.errors import SampleNotFoundError

__all__ = ["SAMPLES", "SampleInfo", "list_samples", "read_sample", "sample_path"]


@dataclass(frozen=True)
class SampleInfo:
    """One bundled data set: its registry name, file name and a one-line description.

    Attributes
    ----------
    name : str
        Name for :func:`read_sample`.
    file : str
        File name in the bundled data folder.
    description : str
        What the data set is, in one line.
    """

    name: str
    file: str
    description: str


#: The bundled data sets, in the order :func:`list_samples` shows them.
SAMPLES: dict[str, SampleInfo] = {
    s.name: s
    for s in (
        SampleInfo(
            "physio_cohort",
            "physio_cohort.csv",
            "Simulated chronic-pain physiotherapy cohort (182 patients, 24 physiotherapists, "
            "up to 12 sessions): WAI-SR items, NRS pain, ODI sections, RMDQ, home-exercise "
            "adherence, attendance, arm, telehealth; long layout.",
        ),
        SampleInfo(
            "psychotherapy_cohort",
            "psychotherapy_cohort.csv",
            "Simulated psychotherapy cohort sized like Baldwin, Wampold & Imel (2007): 80 "
            "therapists, 331 patients, session-level WAI-SR mean and a symptom score.",
        ),
        SampleInfo(
            "molloy2014",
            "molloy2014.csv",
            "Molloy, O'Carroll & Ferguson (2014): 16 studies of conscientiousness and medication "
            "adherence (r, n, moderators), as R metadat's dat.molloy2014.",
        ),
        SampleInfo(
            "pooled_correlations",
            "pooled_correlations.csv",
            "Published pooled alliance-outcome correlations from major meta-analyses, with "
            "citations (comparison table).",
        ),
        SampleInfo(
            "sgdata",
            "sgdata.csv",
            "Example data of the R package suddengains (Wiedemann et al. 2020, MIT licence): 43 "
            "patients, BDI and rumination (RQ) at baseline, sessions 1-12 and two follow-ups; "
            "wide layout.",
        ),
        SampleInfo(
            "physio_messy",
            "physio_messy.xlsx",
            "Deliberately messy wide Excel copy of 40 physio_cohort patients (sessions 1-8) with "
            "documented bad values, for loader and validation examples.",
        ),
        SampleInfo(
            "physio_messy_spss",
            "physio_messy.sav",
            "The physio_messy workbook saved as an SPSS .sav file (pain at session 3 stored as "
            "a string variable).",
        ),
    )
}


def _data_dir() -> Traversable:
    """Directory holding the sample files: the wheel's copy, else the source tree's."""
    packaged = importlib.resources.files("alliancestats").joinpath("_sample_data")
    if packaged.is_dir():
        return packaged
    source = Path(__file__).resolve().parents[2] / "data" / "sample"
    if source.is_dir():
        return source
    raise FileNotFoundError(
        "alliancestats sample data not found: neither the installed package's _sample_data "
        f"folder nor {source} exists; reinstall alliancestats (pip install .)"
    )


def _lookup(name: str) -> SampleInfo:
    if not isinstance(name, str) or name not in SAMPLES:
        valid = ", ".join(SAMPLES)
        raise SampleNotFoundError(f"no sample data set named {name!r}; valid names: {valid}")
    return SAMPLES[name]


_extracted = contextlib.ExitStack()


def sample_path(name: str) -> Path:
    """Path of the file behind a bundled data set (for loaders that take a path).

    Parameters
    ----------
    name : str
        A name from :func:`list_samples`.

    Returns
    -------
    pathlib.Path
        The file on disk (extracted to a temporary file if the package is zipped).

    Raises
    ------
    SampleNotFoundError
        If ``name`` is not a bundled data set; the message lists the valid names.

    Examples
    --------
    >>> sample_path("physio_messy").suffix
    '.xlsx'
    """
    info = _lookup(name)
    resource = _data_dir().joinpath(info.file)
    if isinstance(resource, Path):
        return resource
    return _extracted.enter_context(importlib.resources.as_file(resource))


def read_sample(name: str) -> pd.DataFrame:
    """Read a bundled sample data set into a DataFrame.

    CSV files are read with pandas defaults plus ``date`` parsed as datetime where present;
    the messy workbook is returned exactly as pandas reads the sheet (mixed-type columns stay
    ``object``), so validation examples see the bad values. For cell-accurate error reports
    pass :func:`sample_path` to :func:`alliancestats.load_sessions` instead.

    Parameters
    ----------
    name : str
        One of the names in :func:`list_samples` (``"physio_cohort"``,
        ``"psychotherapy_cohort"``, ``"molloy2014"``, ``"pooled_correlations"``,
        ``"physio_messy"``, ``"physio_messy_spss"``).

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    SampleNotFoundError
        If ``name`` is not a bundled data set; the message lists the valid names.

    See Also
    --------
    list_samples : names, files, descriptions and row counts.

    Examples
    --------
    >>> df = read_sample("physio_cohort")
    >>> df[["patient", "session"]].duplicated().any()
    np.False_
    >>> read_sample("pooled_correlations")["r"].between(0, 1).all()
    np.True_
    """
    info = _lookup(name)
    path = sample_path(name)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        frame = pd.read_csv(path)
        if "date" in frame.columns:
            frame["date"] = pd.to_datetime(frame["date"])
        return frame
    if suffix == ".xlsx":
        return pd.read_excel(path, sheet_name=0)
    if suffix == ".sav":
        import pyreadstat

        frame, _meta = pyreadstat.read_sav(str(path))
        return frame
    raise AssertionError(f"unhandled sample file type for {info.name}: {path.name}")


def list_samples() -> pd.DataFrame:
    """List the bundled data sets.

    Returns
    -------
    pandas.DataFrame
        One row per data set with columns ``name``, ``file``, ``description`` and ``rows``
        (number of data rows in the file).

    Examples
    --------
    >>> tab = list_samples()
    >>> list(tab.columns)
    ['name', 'file', 'description', 'rows']
    >>> int(tab.set_index("name").loc["molloy2014", "rows"])
    16
    """
    records = [
        {
            "name": info.name,
            "file": info.file,
            "description": info.description,
            "rows": len(read_sample(info.name)),
        }
        for info in SAMPLES.values()
    ]
    return pd.DataFrame(records, columns=["name", "file", "description", "rows"])
