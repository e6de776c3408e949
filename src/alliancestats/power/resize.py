"""Change the size of a simulated design the way the data are nested (simr's ``extend``).

* ``n_therapists``: the therapists are reused in turn (alternating between arms when the
  specification names an arm column); a copied therapist brings all their patients and
  sessions, relabelled as new people (patients stay nested in their therapist).
* ``n_patients``: patients per therapist (in total when there is no therapist level),
  each therapist's patients reused in turn.
* ``n_sessions``: the first sessions of every patient (a data-based design cannot invent
  later sessions; a :func:`~alliancestats.power.longitudinal_spec` design is rebuilt instead).

Copies are labelled ``"<original>#<copy>"``.

Examples
--------
>>> import pandas as pd
>>> from alliancestats.power.resize import resize_rows
>>> from alliancestats.power.spec import Nesting
>>> rows = pd.DataFrame({"therapist": ["A", "A", "B", "B"], "patient": ["p1", "p2", "p3", "p4"],
...                      "session": [0, 0, 0, 0]})
>>> out = resize_rows(rows, Nesting("patient", "therapist", "session"), "n_therapists", 3)
>>> out["therapist"].tolist(), out["patient"].tolist()
(['A', 'A', 'B', 'B', 'A#1', 'A#1'], ['p1', 'p2', 'p3', 'p4', 'p1#1', 'p2#1'])
"""

from __future__ import annotations

import pandas as pd

from alliancestats.errors import ParameterError
from alliancestats.power.spec import ALONG, Nesting, SimulationSpec

__all__ = ["resize", "resize_rows"]


def _order(data: pd.DataFrame, unit: str, arm: str | None) -> list:
    """Units in order of appearance, alternating between arms when an arm column is known."""
    first = data.drop_duplicates(unit)
    if arm is None or arm not in data.columns:
        return first[unit].tolist()
    by_arm = [g[unit].tolist() for _, g in first.groupby(arm, sort=False)]
    out = []
    for i in range(max(len(u) for u in by_arm)):
        out.extend(u[i] for u in by_arm if i < len(u))
    return out


def _label(value, copy: int):
    return value if copy == 0 else f"{value}#{copy}"


def _cycle_units(data: pd.DataFrame, unit: str, inner: list[str], value: int,
                 arm: str | None) -> pd.DataFrame:
    """``value`` units of column ``unit`` reusing the existing ones in turn."""
    units = _order(data, unit, arm)
    parts = []
    for i in range(value):
        u, copy = units[i % len(units)], i // len(units)
        block = data[data[unit] == u].copy()
        for col in [unit, *inner]:
            block[col] = [_label(v, copy) for v in block[col]]
        parts.append(block)
    return pd.concat(parts, ignore_index=True)


def resize_rows(data: pd.DataFrame, nesting: Nesting, along: str, value: int) -> pd.DataFrame:
    """Design rows with ``value`` therapists, patients (per therapist) or sessions."""
    pat, ther, ses, arm = nesting.patient, nesting.therapist, nesting.session, nesting.arm
    if pat is None:
        raise ParameterError("power_curve needs to know the patient column (patient=...)")
    if along == "n_therapists":
        if ther is None:
            raise ParameterError("this design has no therapist level to add therapists to")
        return _cycle_units(data, ther, [pat], value, arm)
    if along == "n_patients":
        if ther is None:
            return _cycle_units(data, pat, [], value, arm)
        parts = [_cycle_units(g, pat, [], value, None)
                 for _, g in data.groupby(ther, sort=False)]
        return pd.concat(parts, ignore_index=True)
    if ses is None:
        raise ParameterError("power_curve needs to know the session column (session=...)")
    ordered = data.sort_values([pat, ses], kind="stable")
    rank = ordered.groupby(pat, sort=False).cumcount()
    if value > int(rank.max()) + 1:
        raise ParameterError(
            f"the design rows hold at most {int(rank.max()) + 1} sessions per patient, so they "
            f"cannot be extended to {value}; build the design with more sessions (e.g. "
            "longitudinal_spec) or use values up to that number"
        )
    return ordered[rank < value].sort_index().reset_index(drop=True)


def resize(spec: SimulationSpec, along: str, value: int) -> SimulationSpec:
    """``spec`` with a new number of therapists, patients or sessions."""
    if along not in ALONG:
        raise ParameterError(f"along must be one of {ALONG}, got {along!r}")
    if spec.builder is not None:
        return spec.builder(**{along: value})
    rows = resize_rows(spec.data, spec.nesting, along, value)
    return SimulationSpec(spec.formula, rows, dict(spec.fixed), dict(spec.covariances),
                          spec.sigma, spec.term, spec.nesting, spec.observed)
