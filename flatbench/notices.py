"""One-line warnings on stderr (``flatbench: warning: ...``), each message once per process.

Library code warns here when it carries on after something the user should know about (a
corrupt cache entry moved aside and recomputed, MLflow unavailable, a grid axis that drops
cells); errors that stop the run are `FlatbenchError`s instead."""

from __future__ import annotations

import sys

_seen: set[str] = set()


def warn(msg: str) -> None:
    line = " ".join(str(msg).split())  # always one line
    if line in _seen:
        return
    _seen.add(line)
    print(f"flatbench: warning: {line}", file=sys.stderr, flush=True)


def first_line(e: BaseException, limit: int = 200) -> str:
    """An exception as one short line: its type and the first line of its message."""
    text = str(e).strip().splitlines()
    msg = text[0] if text else ""
    if len(msg) > limit:
        msg = msg[: limit - 3] + "..."
    return f"{type(e).__name__}: {msg}" if msg else type(e).__name__
