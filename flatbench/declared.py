"""One declared hyper-parameter (`P`): its default, kind and check. A leaf module (standard
library only), so the registry, the components' declaration modules and `flatbench.hparams` can
all use it without an import circle."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class P:
    """One declared hyper-parameter. ``kind``: int, float, bool, str, ints (non-empty list of
    ints), per_recipe (int, or {recipe: int or "all"}); ``lo``/``hi`` bound numbers (``open_lo``/``open_hi``
    make them strict); ``none``: None is allowed (meaning of None in ``doc``)."""

    default: Any
    kind: str
    doc: str = ""
    lo: float | None = None
    hi: float | None = None
    open_lo: bool = False
    open_hi: bool = False
    none: bool = False
    choices: tuple | None = None
    finite: bool = True

    def problem(self, v) -> str | None:
        """Why ``v`` is not a valid value, or None."""
        if v is None:
            return None if self.none else self._want()
        k = self.kind
        if k == "per_recipe":
            if isinstance(v, dict):  # "all": the whole split for that recipe (TOML has no null)
                ok = all((_is_int(n) and n >= 1) or n == "all" for n in v.values())
            else:
                ok = _is_int(v) and v >= 1
            return None if ok else self._want()
        if k == "ints":
            ok = isinstance(v, list | tuple) and v and all(_is_int(w) and w >= (self.lo or 0) for w in v)
            return None if ok else self._want()
        if k == "bool":
            return None if isinstance(v, bool) else self._want()
        if k == "str":
            if not isinstance(v, str) or (self.choices and v not in self.choices):
                return self._want()
            return None
        if k == "int" and not _is_int(v):
            return self._want()
        if k == "float" and not (_is_int(v) or isinstance(v, float)):
            return self._want()
        if self.finite and not math.isfinite(v):
            return self._want()
        if self.lo is not None and (v < self.lo or (self.open_lo and v == self.lo)):
            return self._want()
        if self.hi is not None and (v > self.hi or (self.open_hi and v == self.hi)):
            return self._want()
        return None

    def typed(self, v):
        """``v`` as the declared kind (float kinds give floats, int kinds ints; None stays None)."""
        if v is None:
            return None
        k = self.kind
        if k == "float":
            return float(v)
        if k == "int":
            return int(v)
        if k == "ints":
            return [int(w) for w in v]
        return v

    def _want(self) -> str:
        k = self.kind
        if k == "per_recipe":
            s = "an integer >= 1, or a table {recipe = integer >= 1 or \"all\"}"
        elif k == "ints":
            s = f"a non-empty list of integers >= {int(self.lo or 0)}"
        elif k == "bool":
            s = "true or false"
        elif k == "str":
            s = ("one of " + ", ".join(map(repr, self.choices))) if self.choices else "a string"
        else:
            s = "an integer" if k == "int" else ("a finite number" if self.finite else "a number")
            lo = None if self.lo is None else (int(self.lo) if k == "int" else self.lo)
            hi = None if self.hi is None else (int(self.hi) if k == "int" else self.hi)
            if lo is not None and hi is not None:
                s += f" in {'(' if self.open_lo else '['}{lo}, {hi}{')' if self.open_hi else ']'}"
            elif lo is not None:
                s += f" {'>' if self.open_lo else '>='} {lo}"
        return s + (" (or omit it)" if self.none else "")


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)
