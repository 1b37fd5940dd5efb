"""Validation helpers shared by the workload and architecture descriptions.

Every check raises ``ValueError`` naming the owner and field, the offending value and what is
allowed, so that bad input fails before any simulation or search work starts.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping


def positive_int(owner: str, field: str, value: object) -> int:
    """Returns ``value`` if it is an integer >= 1, else raises a ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{owner}.{field} must be a positive integer, got {value!r}")
    return int(value)


def non_negative_int(owner: str, field: str, value: object) -> int:
    """Returns ``value`` if it is an integer >= 0, else raises a ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{owner}.{field} must be an integer >= 0, got {value!r}")
    return int(value)


def int_in(owner: str, field: str, value: object, low: int, high: int) -> int:
    """Returns ``value`` if it is an integer in ``[low, high]``, else raises a ValueError."""
    if (isinstance(value, bool) or not isinstance(value, numbers.Integral)
            or not low <= value <= high):
        raise ValueError(f"{owner}.{field} must be an integer in [{low}, {high}], got {value!r}")
    return int(value)


def positive_number(owner: str, field: str, value: object, allow_inf: bool = False) -> float:
    """Returns ``value`` as float if it is a finite (or, if allowed, infinite) number > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"{owner}.{field} must be a number > 0, got {value!r}")
    if value == float("inf") and not allow_inf:
        raise ValueError(f"{owner}.{field} must be finite, got {value!r}")
    return float(value)


def number_in(owner: str, field: str, value: object, low: float, high: float = float("inf"),
              low_open: bool = False, high_open: bool = False) -> float:
    """Returns ``value`` as float if it is a number in the interval from ``low`` to ``high``, each
    end closed unless ``low_open`` / ``high_open``; else raises a ValueError naming the interval."""
    ok = (not isinstance(value, bool) and isinstance(value, (int, float))
          and (value > low if low_open else value >= low)
          and (value < high if high_open else value <= high))
    if not ok:
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise ValueError(f"{owner}.{field} must be a number in {interval}, got {value!r}")
    return float(value)


def one_of(owner: str, field: str, value: object, allowed: Iterable[str]) -> str:
    """Returns ``value`` if it is one of ``allowed``, else raises a ValueError listing them."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"{owner}.{field} must be one of {list(allowed)}, got {value!r}")
    return value  # type: ignore[return-value]


RENAMED_FIELDS = {
    "dram_bandwidth": ("dram_bandwidth_words_per_cycle", "same value"),
    "max_latency_ms": ("max_latency_s", "divide the value by 1000"),
    "edp": ("edp_pj_s", "same value"),
    "edap": ("edap_pj_s_mm2", "same value"),
}
"""Fields renamed to carry their unit: old name -> (new name, how to convert). Files written before
the rename fail with a message naming both, never silently misread."""


def known_keys(owner: str, data: Mapping[str, object], allowed: Iterable[str]) -> None:
    """Raises a ValueError if ``data`` has keys outside ``allowed`` (typos in JSON files), naming
    the new name of a field renamed since the file was written (:data:`RENAMED_FIELDS`)."""
    allowed = set(allowed)
    unknown = sorted(set(data) - allowed)
    for key in unknown:
        new, conversion = RENAMED_FIELDS.get(key, (None, None))
        if new in allowed:
            raise ValueError(f"{owner}.{key} was renamed to {owner}.{new} (units in field names; "
                             f"{conversion}): this file or config was written by an older dianjax")
    if unknown:
        raise ValueError(f"{owner} got unknown field(s) {unknown}; allowed fields: {sorted(allowed)}")


def not_renamed(owner: str, data: Mapping[str, object]) -> None:
    """Raises a ValueError if ``data`` holds a field under its old name (:data:`RENAMED_FIELDS`)
    and not under its new one: for records with open-ended fields, where :func:`known_keys` does
    not apply."""
    for key, (new, conversion) in RENAMED_FIELDS.items():
        if key in data and new not in data:
            raise ValueError(f"{owner}.{key} was renamed to {owner}.{new} (units in field names; "
                             f"{conversion}): this file was written by an older dianjax")
