"""Tests of the bundled sample data: registry, contents, planted problems, packaging."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alliancestats import list_samples, read_sample
from alliancestats.datasets import SAMPLES, sample_path
from alliancestats.errors import SampleNotFoundError

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DIR = REPO / "data" / "sample"
WAI = [f"wai_{k}" for k in range(1, 13)]
ODI = [f"odi_{k}" for k in range(1, 11)]


def _load_script():
    spec = importlib.util.spec_from_file_location(
        "make_sample_data", REPO / "scripts" / "make_sample_data.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_list_samples_table_matches_files():
    tab = list_samples()
    assert list(tab.columns) == ["name", "file", "description", "rows"]
    assert list(tab["name"]) == list(SAMPLES)
    for row in tab.itertuples():
        assert (SAMPLE_DIR / row.file).is_file()
        assert row.rows == len(read_sample(row.name)) > 0
        assert len(row.description) > 20
    # every data file in data/sample is registered (README.md is the only other file)
    on_disk = {p.name for p in SAMPLE_DIR.iterdir()} - {"README.md"}
    assert on_disk == set(tab["file"])


def test_readme_documents_every_sample_and_column():
    readme = (SAMPLE_DIR / "README.md").read_text(encoding="utf-8")
    for info in SAMPLES.values():
        assert f"`{info.name}`" in readme and f"`{info.file}`" in readme
    # the overview table's row counts are the files' row counts
    for row in list_samples().itertuples():
        assert f"| `{row.name}` | `{row.file}` | {row.rows} |" in readme, row.name
    for name in ("physio_cohort", "psychotherapy_cohort", "pooled_correlations", "molloy2014"):
        for col in read_sample(name).columns:
            if col in WAI[1:-1] or col in ODI[1:-1]:
                continue  # documented as ranges "wai_1 … wai_12", "odi_1 … odi_10"
            assert f"`{col}`" in readme, (name, col)


def test_sample_files_are_small():
    total = sum(p.stat().st_size for p in SAMPLE_DIR.iterdir())
    assert total < 1_000_000  # brief: data/sample well under 2 MB


def test_physio_cohort_contents():
    df = read_sample("physio_cohort")
    assert df["patient"].nunique() == 182
    assert df["therapist"].nunique() == 24
    assert df.groupby("patient")["therapist"].nunique().eq(1).all()
    assert not df.duplicated(["patient", "session"]).any()
    assert df["session"].between(1, 12).all()
    assert pd.api.types.is_datetime64_any_dtype(df["date"])
    assert set(df["arm"]) == {"control", "intervention"}
    assert set(df["modality"]) == {"in_person", "telehealth"}
    assert set(df["attended"]) == {0, 1}
    items = df[WAI].stack().dropna()
    assert items.between(1, 5).all() and (items == items.round()).all()
    assert df[ODI].stack().dropna().between(0, 5).all()
    assert df["odi_8"].isna().sum() > df["odi_1"].isna().sum()  # section 8 left blank sometimes
    assert df["pain"].dropna().between(0, 10).all()
    assert df["rmdq"].dropna().between(0, 24).all()
    assert (
        df["exercises_done"].dropna()
        <= df.loc[df["exercises_done"].notna(), "exercises_prescribed"]
    ).all()
    missed = df["attended"] == 0
    assert df.loc[missed, WAI + ["pain", "adhered"]].isna().all().all()


def test_psychotherapy_cohort_contents():
    df = read_sample("psychotherapy_cohort")
    assert df["therapist"].nunique() == 80  # Baldwin et al. 2007
    assert df["patient"].nunique() == 331
    assert df["wai_sr"].dropna().between(1, 5).all()
    # the WAI-SR total is a mean of 12 integer items: a multiple of 1/12 up to 3 decimals
    twelfths = df["wai_sr"].dropna() * 12
    assert np.allclose(twelfths, twelfths.round(), atol=0.006)  # 3-decimal rounding x 12
    assert df["symptoms"].dropna().between(0, 180).all()


def test_molloy2014_matches_metadat():
    df = read_sample("molloy2014")
    assert len(df) == 16
    assert list(df.columns[:5]) == ["study", "authors", "year", "ni", "ri"]
    first = df.iloc[0]
    assert (first["authors"], first["year"], first["ni"], first["ri"]) == (
        "Axelsson et al.",
        2009,
        109,
        0.187,
    )
    assert df["ni"].sum() == 3509  # total N of the 16 studies in dat.molloy2014
    assert set(df["design"]) == {"cross-sectional", "prospective"}
    # fixed-effect pooled r on Fisher's z; metafor 3.8-1 rma(method="FE") pinned by
    # tests/reference/meta/edge_cases.R
    edge = json.loads((REPO / "tests" / "reference" / "meta" / "edge_cases.json").read_text())
    ref = edge["cases"]["molloy2014_fe_r"]
    z = np.arctanh(df["ri"])
    w = df["ni"] - 3
    np.testing.assert_allclose(z, ref["yi"], rtol=1e-12)  # atanh, same inputs as R
    # tolerance: closed-form weighted mean, floating-point round-off only
    assert np.tanh((w * z).sum() / w.sum()) == pytest.approx(ref["pred"], rel=1e-8)


def test_pooled_correlations_table():
    df = read_sample("pooled_correlations")
    row = df.set_index("year").loc[2018]
    assert (row["r"], row["ci_low"], row["ci_high"], row["k_studies"]) == (0.278, 0.256, 0.299, 295)
    assert df.set_index("year").loc[2011, "r"] == 0.275
    assert df["citation"].str.len().gt(40).all()
    assert (df["ci_low"].dropna() < df.loc[df["ci_low"].notna(), "r"]).all()


def test_messy_workbook_has_the_documented_problems():
    df = read_sample("physio_messy")
    assert df.shape == (41, 5 + 8 * 15)
    excel = {row: row - 2 for row in (4, 8, 12, 16, 22, 42)}  # Excel row -> 0-based position
    assert df.loc[excel[4], "wai_7_s2"] == 7
    assert df.loc[excel[8], "pain_s3"] == "7-8"
    assert pd.Timestamp(df.loc[excel[12], "date_s4"]) == pd.Timestamp("2031-05-14")
    assert pd.isna(df.loc[excel[16], "patient_id"])
    dup = df.loc[excel[42]]
    orig = df.loc[excel[22]]
    assert dup["patient_id"] == orig["patient_id"] == "P021"
    assert (orig["pain_s1"], dup["pain_s1"]) == (7, 9)
    # apart from the planted cells, every WAI item is in range and every pain is numeric
    items = df[[c for c in df.columns if c.startswith("wai_")]].stack().dropna()
    assert (items.between(1, 5) | (items == 7)).all() and (items == 7).sum() == 1
    pains = df[[c for c in df.columns if c.startswith("pain_s")]].stack().dropna()
    assert sum(isinstance(v, str) for v in pains) == 1


def test_messy_spss_matches_workbook():
    xl = read_sample("physio_messy")
    sav = read_sample("physio_messy_spss")
    assert list(sav.columns) == list(xl.columns)
    assert sav.loc[6, "pain_s3"] == "7-8" and sav.loc[14, "patient_id"] == ""
    num = [c for c in xl.columns if c.startswith(("wai_", "adhered_"))]
    pd.testing.assert_frame_equal(sav[num].astype(float), xl[num].astype(float), check_dtype=False)


def test_unknown_name_lists_valid_names():
    with pytest.raises(SampleNotFoundError, match="valid names: physio_cohort, psychotherapy"):
        read_sample("physio")
    with pytest.raises(KeyError):  # SampleNotFoundError is also a KeyError
        sample_path("nope")


def test_script_regenerates_the_committed_files(tmp_path):
    script = _load_script()
    physio = script.make_physio_cohort()
    buf = io.StringIO()
    physio.to_csv(buf, index=False, lineterminator="\n")
    assert buf.getvalue() == (SAMPLE_DIR / "physio_cohort.csv").read_text()
    buf = io.StringIO()
    script.make_psychotherapy_cohort().to_csv(buf, index=False, lineterminator="\n")
    assert buf.getvalue() == (SAMPLE_DIR / "psychotherapy_cohort.csv").read_text()
    buf = io.StringIO()
    script.make_pooled().to_csv(buf, index=False, lineterminator="\n")
    assert buf.getvalue() == (SAMPLE_DIR / "pooled_correlations.csv").read_text()
    script.write_messy(script.make_messy(physio), out=tmp_path)
    pd.testing.assert_frame_equal(
        pd.read_excel(tmp_path / "physio_messy.xlsx"), read_sample("physio_messy")
    )
    pd.testing.assert_frame_equal(
        _read_sav(tmp_path / "physio_messy.sav"),
        read_sample("physio_messy_spss"),
    )


def _read_sav(path: Path) -> pd.DataFrame:
    import pyreadstat

    return pyreadstat.read_sav(str(path))[0]


def _build_wheel(tmp_path: Path) -> Path:
    args = [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "-q", "-w", str(tmp_path)]
    if importlib.util.find_spec("hatchling") is not None:
        args.append("--no-build-isolation")  # offline and fast when the backend is installed
    subprocess.run(args, check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("alliancestats-*.whl")
    return wheel


def test_wheel_ships_sample_data_and_read_sample_uses_it(tmp_path):
    wheel = _build_wheel(tmp_path / "dist")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        for info in SAMPLES.values():
            assert f"alliancestats/_sample_data/{info.file}" in names
        assert "alliancestats/_sample_data/README.md" in names
        zf.extractall(tmp_path / "site")
    # import the unpacked wheel (not the source tree) and read every sample from it
    code = (
        "import alliancestats.datasets as d\n"
        "print(d._data_dir())\n"
        "print(sum(len(d.read_sample(n)) for n in d.SAMPLES))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    out = subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    ).stdout.split()
    assert out[0] == str(tmp_path / "site" / "alliancestats" / "_sample_data")
    assert int(out[1]) == sum(len(read_sample(n)) for n in SAMPLES)


def test_source_checkout_falls_back_to_data_sample():
    from alliancestats import datasets

    packaged = Path(datasets.__file__).parent / "_sample_data"
    assert not packaged.exists()  # editable install: no packaged copy in src/
    assert Path(str(datasets._data_dir())) == SAMPLE_DIR
    assert sample_path("physio_cohort") == SAMPLE_DIR / "physio_cohort.csv"


def test_packaged_copy_wins_over_source_tree(tmp_path, monkeypatch):
    from alliancestats import datasets

    (tmp_path / "_sample_data").mkdir()
    (tmp_path / "_sample_data" / "molloy2014.csv").write_text("study,ri\nX,0.5\n")
    monkeypatch.setattr(datasets.importlib.resources, "files", lambda package: tmp_path)
    assert sample_path("molloy2014") == tmp_path / "_sample_data" / "molloy2014.csv"
    assert read_sample("molloy2014").to_dict("list") == {"study": ["X"], "ri": [0.5]}
