"""One computation per stage key, however many processes share a cache (Cache.lock around
Stage.run's own compute): a second process waits for a stage being computed, then reuses it; a
killed holder's lock is taken over at once. Real processes, real data, a real small grid."""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from flatbench.cache import MANIFEST, Cache

ROOT = Path(__file__).resolve().parents[1]

# The real CLI, with Stage._run (a stage's own computation) announcing each call on stderr: the
# run is not changed, only counted.
COUNTING_CLI = """
import sys
import flatbench.stages as S
_run = S.Stage._run
def counted(self, *a, **k):
    print(f"EXECUTED {self.kind}/{self.key}", file=sys.stderr, flush=True)
    return _run(self, *a, **k)
S.Stage._run = counted
from flatbench.cli import main
main()
"""

SMALL_SMOKE = ["--grid", "smoke", "--models", "cnn", "--methods", "base", "--set", "epochs=1",
               "--set", "vocab_extra=500", "--set", "attack_test_n=4", "--set", "lime_pairs=2",
               "--set", "lime_samples=20", "--no-mlflow"]


def test_two_concurrent_runs_on_one_cache_compute_each_stage_once(tmp_path, data_dir):
    env = {**os.environ, "FLATBENCH_DATA_DIR": str(data_dir), "OMP_NUM_THREADS": "1",
           "PYTHONPATH": str(ROOT)}
    runs = tmp_path / "runs"
    procs = []
    for i in range(2):
        out, err = open(tmp_path / f"out{i}", "w"), open(tmp_path / f"err{i}", "w")
        procs.append(subprocess.Popen([sys.executable, "-c", COUNTING_CLI, "run", *SMALL_SMOKE,
                                       "--runs-dir", str(runs)], cwd=tmp_path, env=env,
                                      stdout=out, stderr=err, text=True))
    for p in procs:
        assert p.wait(timeout=600) == 0, (tmp_path / f"err{procs.index(p)}").read_text()[-3000:]
    errs = [(tmp_path / f"err{i}").read_text() for i in range(2)]
    outs = [(tmp_path / f"out{i}").read_text() for i in range(2)]

    executed = Counter(s for e in errs for s in re.findall(r"^EXECUTED (\S+)$", e, re.M))
    stages = {f"{kind}/{key}" for kind, key in Cache(runs).stages()}
    assert {s.split("/")[0] for s in stages} == {"train", "evaluate", "attack", "interpret"}
    assert all((runs / s / MANIFEST).is_file() for s in stages)
    assert executed == Counter({s: 1 for s in stages}), errs  # every stage computed, once in all
    # the runs overlapped: one waited for a stage the other was computing, and then reused it
    waits = [(p.pid, other.pid, label) for p, other, e in zip(procs, procs[::-1], errs)
             for label in re.findall(r"^flatbench: waiting for (.+?), being computed by pid", e, re.M)]
    assert waits, errs
    for pid, other, label in waits:
        e = errs[[p.pid for p in procs].index(pid)]
        assert f"flatbench: waiting for {label}, being computed by pid {other}, started " in e
        assert f"flatbench: {label}: computed by pid {other} meanwhile; reusing it" in e
    assert outs[0] == outs[1] and "| CNN" in outs[0]  # the same tables
    assert not list(runs.glob("*/.locks/*")) and not list(runs.glob("*/.tmp/*"))  # nothing left


HOLDER = """
import sys, time
from flatbench.cache import Cache
c = Cache(sys.argv[1])
with c.lock("attack", "k1", "attack[test]"):
    (c.partial_dir("attack", "k1") / "records.0.jsonl").write_text('{"idx": 0}\\n')
    with c.writing("attack", "k1") as tmp:
        (tmp / "half.txt").write_text("half")
        print("holding", flush=True)
        time.sleep(120)
"""


def test_a_sigkilled_holder_does_not_block_the_other(tmp_path, capfd):
    cache = Cache(tmp_path / "runs")
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(cache.root)], stdout=subprocess.PIPE,
                              text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert holder.stdout.readline().strip() == "holding"
        # while the holder lives: its work in progress is not swept, and the lock is taken
        assert cache.sweep_stale() == 0 and len(list((cache.root / "attack" / ".tmp").iterdir())) == 1
        t0 = time.monotonic()
        killer = threading.Timer(1.5, os.kill, (holder.pid, signal.SIGKILL))
        killer.start()
        with cache.lock("attack", "k1", "attack[test]", notice_every=0.4, poll=0.05) as held:
            waited = time.monotonic() - t0
            assert holder.poll() == -signal.SIGKILL
            assert held.waited_for["pid"] == holder.pid and held.took_over["pid"] == holder.pid
            # the dead holder's progress is still there to resume; its temporary directory goes
            assert (cache.partial_dir("attack", "k1") / "records.0.jsonl").read_text() == '{"idx": 0}\n'
            assert cache.sweep_stale() == 1
            assert json.loads(cache.lock_path("attack", "k1").read_text())["pid"] == os.getpid()
        killer.join()
    finally:
        holder.kill()
        holder.wait()
    assert 1.3 < waited < 10
    err = capfd.readouterr().err
    assert err.count("flatbench: waiting for attack[test], being computed by pid "
                     f"{holder.pid}, started ") == 1  # named once ...
    assert "flatbench: still waiting for attack[test]" in err  # ... then a periodic line
    assert f"attack[test]: taking over from pid {holder.pid}" in err
    assert not cache.lock_path("attack", "k1").exists()  # a clean release leaves no file


def test_the_lock_excludes_threads_and_survives_releases_while_others_wait(tmp_path):
    """Many waiters, each release unlinking the file: never two holders at once."""
    cache = Cache(tmp_path / "runs")
    inside, most, done = [0], [0], []

    def work(i):
        for _ in range(5):
            with cache.lock("train", "k", poll=0.001):
                inside[0] += 1
                most[0] = max(most[0], inside[0])
                time.sleep(0.002)
                inside[0] -= 1
        done.append(i)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(done) == list(range(6)) and most[0] == 1
    assert not list((cache.root / "train" / ".locks").iterdir())
