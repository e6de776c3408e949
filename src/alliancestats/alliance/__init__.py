"""Alliance-specific analysis helpers (within/between decomposition, lags, trajectories).

Filled in by later issues.
"""
