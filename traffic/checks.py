"""Range checks for parameter objects, with messages that name the field and its value."""

from __future__ import annotations

import math
from collections.abc import Iterable

from traffic.errors import ModelError


def require(obj: object, names: Iterable[str], *, minimum: float = 0.0, strict: bool = False,
            what: str = "") -> None:
    """Raise ``ModelError`` unless every named attribute is finite and >= ``minimum`` (> if ``strict``)."""
    for name in names:
        value = getattr(obj, name)
        ok = math.isfinite(value) and (value > minimum if strict else value >= minimum)
        if not ok:
            rel = ">" if strict else ">="
            prefix = f"{what}: " if what else ""
            raise ModelError(f"{prefix}{name} (={value}) must be a finite number {rel} {minimum:g}")
