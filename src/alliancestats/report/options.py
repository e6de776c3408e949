"""Checking one table of a study configuration against the options a section accepts.

Each report section declares its options as a mapping of key to :class:`Option` (kind,
default, whether required, one line of help). :func:`check_options` returns the table with
defaults filled in, or raises :class:`~alliancestats.errors.ConfigError` naming the table, the
key, what was found and what is allowed (with a "did you mean" for misspelt keys).

Examples
--------
>>> spec = {"score": Option("str", required=True), "cutoff": Option("float")}
>>> check_options("[sudden_gains]", {"score": "pain", "cutoff": 2}, spec)
{'score': 'pain', 'cutoff': 2.0}
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from alliancestats.errors import ConfigError

__all__ = ["KINDS", "Option", "check_options", "unknown_key_message"]

#: what each option kind accepts, in words (for messages)
KINDS = {
    "str": "a text value in quotes",
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "str_list": "a list of text values, e.g. [\"alliance\", \"pain\"]",
    "str_or_list": "a text value or a list of text values",
    "int_or_list": "a whole number or a list of whole numbers",
    "table": "a table (key = value pairs)",
    "any": "any value",
}


@dataclass(frozen=True)
class Option:
    """One key of a configuration table.

    Attributes
    ----------
    kind : str
        One of :data:`KINDS`.
    default : object
        Value used when the key is absent.
    required : bool
        The key must be given.
    help : str
        One line shown in the documentation of the configuration.
    """

    kind: str
    default: Any = None
    required: bool = False
    help: str = ""


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _conform(kind: str, value: Any) -> tuple[bool, Any]:
    """Whether ``value`` fits ``kind``, and the value converted (ints to floats)."""
    if kind == "any":
        return True, value
    if kind == "str":
        return isinstance(value, str), value
    if kind == "int":
        return _is_int(value), value
    if kind == "float":
        ok = _is_int(value) or isinstance(value, float)
        return ok, float(value) if ok else value
    if kind == "bool":
        return isinstance(value, bool), value
    if kind == "table":
        return isinstance(value, Mapping), dict(value) if isinstance(value, Mapping) else value
    if kind == "str_list":
        return isinstance(value, list) and all(isinstance(v, str) for v in value), value
    if kind == "str_or_list":
        return _conform("str", value)[0] or _conform("str_list", value)[0], value
    if kind == "int_or_list":
        ok = _is_int(value) or (isinstance(value, list) and all(_is_int(v) for v in value))
        return ok, value
    raise ValueError(f"unknown option kind {kind!r}")  # pragma: no cover - programming error


def unknown_key_message(where: str, key: str, allowed: list[str]) -> str:
    """``"[table] has no key 'x' (did you mean 'y'?); keys are: ..."``."""
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"{where} has no key {key!r}{hint}; allowed keys are: {', '.join(sorted(allowed))}"


def check_options(where: str, table: Any, spec: Mapping[str, Option]) -> dict[str, Any]:
    """Check ``table`` against ``spec`` and fill in defaults.

    Parameters
    ----------
    where : str
        How to name the table in messages (``"[ruptures] in study.toml"``).
    table : mapping
        The table as read from TOML.
    spec : mapping of str to Option
        Allowed keys.

    Returns
    -------
    dict
        Every key of ``spec``: the given value (numbers as floats for ``"float"``) or the
        default.

    Raises
    ------
    ConfigError
        Not a table, an unknown key, a value of the wrong kind, or a required key missing.
    """
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where} must be a table of key = value pairs, got {table!r}")
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key not in spec:
            raise ConfigError(unknown_key_message(where, key, list(spec)))
        ok, converted = _conform(spec[key].kind, value)
        if not ok:
            raise ConfigError(
                f"{where}: {key} must be {KINDS[spec[key].kind]}, got {value!r}"
            )
        out[key] = converted
    for key, option in spec.items():
        if key not in out:
            if option.required:
                raise ConfigError(f"{where}: {key} is required ({option.help})")
            out[key] = option.default
    return out
