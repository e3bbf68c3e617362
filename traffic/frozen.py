"""A read-only mapping that pickles (so scenarios can be sent to worker processes)."""

from __future__ import annotations

from typing import Any, NoReturn


class FrozenMap(dict):
    """A ``dict`` whose contents cannot change after construction."""

    __slots__ = ()

    def _readonly(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("this mapping is read-only")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _readonly
    __ior__ = _readonly

    def __reduce__(self) -> tuple[type, tuple[dict]]:
        return (type(self), (dict(self),))

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(frozenset(self.items()))
