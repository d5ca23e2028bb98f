"""Sizes and durations as people type them (``64KiB``, ``500ms``, ``off``),
read exactly as the ``tcphub`` binary reads them."""

from __future__ import annotations

import math
import re
from typing import Optional

_SIZE_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10,
               "m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20,
               "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30,
               "t": 1 << 40, "tb": 1 << 40, "tib": 1 << 40}
_DURATION_UNITS = {"ms": 0.001, "": 1.0, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def parse_bytes(text: str) -> int:
    """``65536``, ``64KiB``, ``8M``, ``1_000``: powers of 1024."""
    match = re.fullmatch(r"\s*([0-9_]+)\s*([A-Za-z]*)\s*", text)
    if not match or not match.group(1).strip("_"):
        raise ValueError(f"{text!r} is not a size: expected a number such as 65536 or 64KiB")
    unit = match.group(2).lower()
    if unit not in _SIZE_UNITS:
        raise ValueError(f"unknown size unit {unit!r}: use K, M, G or T (powers of 1024)")
    return int(match.group(1).replace("_", "")) * _SIZE_UNITS[unit]


def parse_count(text: str) -> int:
    """``100000``, ``100_000``: a whole number, no unit. Its bounds are the
    option's, checked where the option is used."""
    match = re.fullmatch(r"\s*([0-9_]+)\s*", text)
    if not match or not match.group(1).strip("_"):
        if text.strip().startswith("-"):
            raise ValueError(f"{text.strip()!r} is negative")
        raise ValueError(f"{text.strip()!r} is not a count: expected a whole number such as 100000")
    return int(match.group(1).replace("_", ""))


def parse_duration(text: str) -> float:
    """``500ms``, ``30s``, ``5m``, ``1h``, ``1e3s``; a bare number is seconds.
    ``inf`` (or a value too large for a float, such as ``1e400s``) is no
    limit, as for the binary."""
    if text.strip().lstrip("+").lower() in ("inf", "infinity"):
        return math.inf
    match = re.fullmatch(r"\s*([0-9_.]+(?:[eE][+-]?[0-9]+)?)\s*([a-z]*)\s*", text)
    try:
        number = float(match.group(1).replace("_", "")) if match else None
    except ValueError:
        number = None
    if number is None:
        raise ValueError(f"{text!r} is not a duration: expected e.g. 500ms, 30s, 5m or inf")
    unit = match.group(2) if match else ""
    if unit not in _DURATION_UNITS:
        raise ValueError(f"unknown duration unit {unit!r}: use ms, s, m or h")
    return number * _DURATION_UNITS[unit]


def parse_optional_duration(text: str) -> Optional[float]:
    """A duration, or none: ``off``, ``none``, ``never`` and any zero
    duration (``0``, ``0s``, ``0ms``), as for the binary. ``inf`` stays
    ``inf``, which every timeout option reads as off too."""
    if text.strip().lower() in ("off", "none", "never"):
        return None
    seconds = parse_duration(text)
    return None if seconds == 0 else seconds


def parse_switch(text: str) -> bool:
    """``on``/``off`` and the usual spellings of true and false."""
    value = text.strip().lower()
    if value in ("on", "true", "yes", "y", "1"):
        return True
    if value in ("off", "false", "no", "n", "0"):
        return False
    raise ValueError(f"{text!r} is not on or off")
