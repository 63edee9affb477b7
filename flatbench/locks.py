"""Per-key stage locks: one computation of a stage however many processes share the cache.

An OS file lock (flock) on runs/<kind>/.locks/<key>.lock, released by the OS when its holder
dies, so a killed holder never blocks anyone; the file names the holder (pid, host, label) for
the waiting process's one line. Used by flatbench.cache.Cache.lock and Stage.run.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sys
import time
from pathlib import Path

from flatbench.errors import CacheError
from flatbench.notices import warn

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no cross-process locking (as before)
    fcntl = None


def host_tag() -> str:
    return hashlib.sha1(socket.gethostname().encode()).hexdigest()[:6]


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def notice(msg: str) -> None:
    """One line on stderr (``flatbench: ...``): what a run is doing that is worth a line."""
    print(f"flatbench: {msg}", file=sys.stderr, flush=True)


def _ago(t) -> str:
    try:
        s = max(0, int(time.time() - float(t)))
    except (TypeError, ValueError):
        return "?"
    return f"{s}s" if s < 120 else f"{s // 60}m" if s < 7200 else f"{s // 3600}h{s % 3600 // 60:02d}m"


class StageLock:
    """One held lock file (see `Cache.lock`). Protocol: open (create) the file, flock it exclusively,
    then check that the path still names the file we locked (a releasing holder unlinks it first;
    whoever locked the unlinked file retries on the new one); write our pid/host/label into it.
    Release: unlink, then close (which drops the flock)."""

    def __init__(self, path: Path, label: str):
        self.path, self.label = path, label
        self.fd: int | None = None
        self.waited_for: dict | None = None
        self.took_over: dict | None = None
        self.waited = 0.0

    def holder(self, fd: int | None = None) -> dict | None:
        """What the lock file says about its holder (None if empty or unreadable)."""
        try:
            if fd is not None:
                raw = os.pread(fd, 4096, 0)
            else:
                raw = self.path.read_bytes()[:4096]
            h = json.loads(raw.decode("utf-8")) if raw.strip() else None
        except (OSError, UnicodeDecodeError, ValueError):
            return None
        return h if isinstance(h, dict) else None

    def _describe(self, h: dict | None) -> str:
        if not h:
            return "another process"
        where = "" if h.get("host") == host_tag() else f" on host {h.get('hostname') or h.get('host')}"
        return f"pid {h.get('pid')}{where}, started {_ago(h.get('since'))} ago"

    def acquire(self, notice_every: float, poll: float) -> None:
        if fcntl is None:  # pragma: no cover
            return
        t0, next_notice = time.monotonic(), None
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
            except OSError as e:
                raise CacheError(f"cannot create the lock file {self.path} ({e.strerror or e})") from None
            try:
                while True:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        now = time.monotonic()
                        if next_notice is None:
                            self.waited_for = self.holder(fd) or {}
                            notice(f"waiting for {self.label}, being computed by "
                                   f"{self._describe(self.waited_for)}; its result will be reused")
                            next_notice = now + notice_every
                        elif now >= next_notice:
                            notice(f"still waiting for {self.label} ({self._describe(self.holder(fd))}; "
                                   f"waited {_ago(time.time() - (now - t0))})")
                            next_notice = now + notice_every
                        time.sleep(poll)
                    except OSError as e:  # a file system without locks (some network mounts)
                        warn(f"cannot lock {self.path} ({e.strerror or e}); computing without the "
                             "per-stage lock (another process may compute the same stage)")
                        os.close(fd)
                        return
                try:
                    same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
                except FileNotFoundError:
                    same = False
                if not same:  # released (unlinked) while we waited on it: lock the current file
                    os.close(fd)
                    continue
            except BaseException:
                os.close(fd)
                raise
            break
        self.fd, self.waited = fd, time.monotonic() - t0
        left = self.holder(fd)  # a clean release unlinks the file: anything here is a dead holder's
        if left and left.get("pid") != os.getpid():
            self.took_over = left
            notice(f"{self.label}: taking over from {self._describe(left)}, which stopped without "
                   "finishing (killed?); computing it here (saved progress, if any, is resumed)")
        me = json.dumps({"pid": os.getpid(), "host": host_tag(), "hostname": socket.gethostname(),
                         "label": self.label, "since": time.time()}).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, me, 0)

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            os.unlink(self.path)  # only the holder unlinks, so this is still our file
        except OSError:
            pass
        os.close(self.fd)
        self.fd = None
