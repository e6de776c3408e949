"""Root conftest: make docstring examples and notebooks run headless."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")
