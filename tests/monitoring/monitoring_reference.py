"""The pinned R reference values of the monitoring tests (lme4 1.1-31, pROC 1.18.0)."""

from __future__ import annotations

import json
from pathlib import Path

REF = json.loads((Path(__file__).parents[1] / "reference" / "monitoring"
                  / "monitoring_reference.json").read_text())
