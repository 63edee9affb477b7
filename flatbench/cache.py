"""The stage cache: runs/<kind>/<key>/, complete iff manifest.json exists, written atomically."""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

MANIFEST = "manifest.json"


class Cache:
    def __init__(self, root: str | os.PathLike = "runs"):
        self.root = Path(root).resolve()

    def dir(self, kind: str, key: str) -> Path:
        return self.root / kind / key

    def done(self, kind: str, key: str) -> bool:
        return (self.dir(kind, key) / MANIFEST).is_file()

    def manifest(self, kind: str, key: str) -> dict:
        return json.loads((self.dir(kind, key) / MANIFEST).read_text())

    def partial_dir(self, kind: str, key: str) -> Path:
        """Where a long stage may keep resumable progress (survives a kill; not a result)."""
        p = self.root / kind / ".partial" / key
        p.mkdir(parents=True, exist_ok=True)
        return p

    @contextmanager
    def writing(self, kind: str, key: str):
        """Yield a temporary directory; on success it becomes runs/<kind>/<key> in one rename."""
        tmp = self.root / kind / ".tmp" / f"{key}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir(parents=True)
        try:
            yield tmp
            if not (tmp / MANIFEST).is_file():
                raise RuntimeError("stage finished without writing its manifest")
            final = self.dir(kind, key)
            try:
                os.rename(tmp, final)
            except OSError:
                if not (final / MANIFEST).is_file():  # a stale incomplete dir: replace it
                    shutil.rmtree(final, ignore_errors=True)
                    os.rename(tmp, final)
            shutil.rmtree(self.root / kind / ".partial" / key, ignore_errors=True)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)


def write_json(path: Path, obj) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=1, default=str))
    os.replace(tmp, path)


def write_manifest(d: Path, kind: str, key: str, spec: dict, metrics: dict, deviations: list[str],
                   seconds: float, extra: dict | None = None) -> None:
    write_json(d / MANIFEST, {"kind": kind, "key": key, "spec": spec, "metrics": metrics,
                              "deviations": sorted(set(deviations)), "seconds": round(seconds, 3),
                              "finished": time.strftime("%Y-%m-%dT%H:%M:%S"), **(extra or {})})
