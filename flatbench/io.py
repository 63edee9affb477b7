"""Atomic writes: what the stage cache, the attack components and the resource builders share.
A file (or a directory) is there whole or not at all: written beside its target under a name
unique to the process and thread, flushed, then moved into place with one rename.

Standard library only (no flatbench import), so every layer may use it."""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path


def write_text_atomic(path: Path, text: str) -> None:
    """Write a file whole or not at all: a temporary file beside it (unique per process and
    thread), flushed to disk, then one rename; on failure the old file stays as it was."""
    _write_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """`write_text_atomic` for bytes."""
    _write_atomic(path, data)


def _write_atomic(path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a failed write leaves neither a half file nor its temporary
        raise


def write_json(path: Path, obj) -> None:
    """Write JSON atomically (write_text_atomic), indented, non-JSON values as str."""
    write_text_atomic(path, json.dumps(obj, indent=1, default=str))


def install_dir_atomically(build, target: Path) -> None:
    """Run ``build(tmpdir)`` and move the result to ``target`` (replacing a stale one)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        build(tmp)
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
            shutil.rmtree(old, ignore_errors=True)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
