"""`import alliancestats` loads no heavy dependency until a function needs it."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ["scipy", "statsmodels", "pyarrow", "formulaic", "matplotlib", "numba", "pandas"]


def _modules_after(code: str) -> list[str]:
    probe = f"{code}; import json, sys; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_loads_no_heavy_module():
    loaded = _modules_after("import alliancestats")
    assert not [m for m in HEAVY if m in loaded]


def test_public_names_resolve_on_first_use():
    loaded = _modules_after("import alliancestats as als; als.lmm")
    assert "alliancestats.models.lmm" in loaded
    assert "statsmodels" not in loaded  # gee's dependency is not needed for lmm
    import alliancestats as als

    assert callable(als.lmm) and "lmm" in dir(als)
    assert sorted(als.__all__) == als.__all__


def test_importing_a_submodule_by_name_keeps_the_function():
    # `from alliancestats.models.glmm import ...` binds the submodule on the package; the
    # public functions of the same names must stay functions
    code = ("from alliancestats.models.glmm import GlmmResult; "
            "from alliancestats.models.lmm import fit_design; "
            "import alliancestats as als; from alliancestats.models import glmm, lmm; "
            "print(callable(glmm) and callable(lmm) and callable(als.glmm) and callable(als.lmm))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True)
    assert out.stdout.strip().splitlines()[-1] == "True"
