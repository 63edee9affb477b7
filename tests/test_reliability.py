"""Reliability, as a user meets it: MLflow off the critical path, a cache that verifies and heals
itself, and one line with exit 2 for every bad input. Real subprocesses, real data, real MLflow."""

import collections
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flatbench.cache import MANIFEST, Cache, file_table, write_json, write_manifest
from test_cli import flatbench

TINY = ["--grid", "table2", "--models", "cnn", "--datasets", "trec", "--methods", "base",
        "--set", "epochs=1", "--set", "vocab_extra=500"]


@pytest.fixture(autouse=True)
def _own_mlflow_uri(monkeypatch):
    """Each test's runs use the MLflow store in their own directory (an earlier test's
    mlflow.set_tracking_uri leaves MLFLOW_TRACKING_URI set for the rest of the session)."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


def warnings_of(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("flatbench: warning:")]


def assert_one_error_line(r, msg: str) -> None:
    assert r.returncode == 2, r.stderr[-2000:]
    assert "Traceback" not in r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("flatbench: error:")]
    assert len(errors) == 1 and msg in errors[0], r.stderr[-2000:]
    assert r.stderr.strip().splitlines()[-1] == errors[0]


def files_under(d: Path) -> list[Path]:
    return [p for p in d.rglob("*") if p.is_file()] if d.is_dir() else []


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, data_dir):
    """One real run of a 2-stage grid (train, evaluate) with MLflow on; tests copy it."""
    d = tmp_path_factory.mktemp("tiny")
    r = flatbench("run", *TINY, cwd=d, env={"FLATBENCH_DATA_DIR": str(data_dir)})
    assert r.returncode == 0, r.stderr[-3000:]
    assert warnings_of(r.stderr) == []
    cache = Cache(d / "runs")
    keys = {kind: key for kind, key in cache.stages()}
    assert set(keys) == {"train", "evaluate"}
    return d, keys


@pytest.fixture
def copy_of(tiny_run, tmp_path):
    """A fresh working directory holding a copy of the tiny run's cache (no MLflow store)."""
    src, keys = tiny_run
    shutil.copytree(src / "runs", tmp_path / "runs")
    return tmp_path, keys


def run_tiny(cwd, data_dir, *extra, env=None):
    return flatbench("run", *TINY, *extra, cwd=cwd, env={"FLATBENCH_DATA_DIR": str(data_dir), **(env or {})})


# ----------------------------------------------------------------------------------------------
# the cache: hashes, legacy entries, verification, healing


def test_new_manifests_record_size_and_sha256_of_every_output(tmp_path):
    c = Cache(tmp_path)
    with c.writing("train", "k1") as d:
        (d / "model.pt").write_bytes(b"x" * 1000)
        (d / "sub").mkdir()
        (d / "sub" / "records.jsonl").write_text('{"a": 1}\n')
        write_manifest(d, "train", "k1", {}, {}, [], 0.1)
    m = c.manifest("train", "k1")
    assert set(m["files"]) == {"model.pt", "sub/records.jsonl"}
    assert m["files"]["model.pt"]["size"] == 1000 and len(m["files"]["model.pt"]["sha256"]) == 64
    assert c.check("train", "k1") is None and c.check("train", "k1", full=True) is None
    p = c.dir("train", "k1") / "model.pt"
    p.write_bytes(b"x" * 999 + b"y")  # same size, other content: only the hash sees it
    assert c.check("train", "k1") is None
    assert "content differs" in c.check("train", "k1", full=True)
    p.write_bytes(b"x" * 10)  # truncated: the cheap size check sees it
    assert c.check("train", "k1") == "model.pt is 10 bytes, the manifest says 1000"
    p.unlink()
    assert c.check("train", "k1") == "model.pt is missing"
    # every temporary directory carries its process id and host
    assert not any((tmp_path / "train" / ".tmp").iterdir())


def test_legacy_manifest_is_complete_by_existence_and_gets_hashes_on_verify(tmp_path):
    c = Cache(tmp_path)
    d = c.dir("attack", "old1")  # as the previous version wrote it: no "files"
    d.mkdir(parents=True)
    (d / "records.jsonl").write_text('{"idx": 0}\n{"idx": 1}\n')
    write_json(d / MANIFEST, {"kind": "attack", "key": "old1", "spec": {}, "metrics": {}, "deviations": [],
                              "seconds": 1.0, "finished": "2026-01-01T00:00:00"})
    before = (d / MANIFEST).read_text()
    assert c.done("attack", "old1") and c.load("attack", "old1") is not None
    assert c.check("attack", "old1") is None  # trusted by existence: never recomputed for that alone
    assert (d / MANIFEST).read_text() == before  # the cheap path writes nothing
    rows = c.verify()
    assert [r["status"] for r in rows] == ["legacy"]
    m = c.manifest("attack", "old1")
    assert m["files"]["records.jsonl"]["size"] == len('{"idx": 0}\n{"idx": 1}\n')
    assert {k: v for k, v in m.items() if k not in ("files", "files_recorded")} == json.loads(before)
    assert [r["status"] for r in c.verify()] == ["ok"]
    # a legacy entry whose JSON Lines were cut is bad, not blessed
    d2 = c.dir("attack", "old2")
    d2.mkdir()
    (d2 / "records.jsonl").write_text('{"idx": 0}\n{"idx": 1, "adv')
    write_json(d2 / MANIFEST, {"kind": "attack", "key": "old2", "metrics": {}})
    bad = [r for r in c.verify() if r["key"] == "old2"]
    assert bad[0]["status"] == "bad" and "line 2 is not JSON" in bad[0]["problem"]
    assert "files" not in c.manifest("attack", "old2")


def test_unreadable_manifest_is_moved_aside_not_deleted(tmp_path, capsys):
    c = Cache(tmp_path)
    with c.writing("evaluate", "k") as d:
        write_manifest(d, "evaluate", "k", {}, {"a": 1}, [], 0.1)
    (c.dir("evaluate", "k") / MANIFEST).write_text('{"kind": "evaluate", "ke')  # cut
    assert c.done("evaluate", "k")  # done stays cheap: existence
    assert c.load("evaluate", "k", "evaluate[x]") is None
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("flatbench: warning: evaluate[x] ")
    assert "manifest.json is unreadable (JSONDecodeError)" in err[0] and "recomputing" in err[0]
    moved = list((tmp_path / "evaluate" / ".bad").iterdir())
    assert len(moved) == 1 and (moved[0] / MANIFEST).is_file() and "unreadable" in (moved[0] / "why.txt").read_text()
    assert not c.done("evaluate", "k")


def test_stale_tmp_dirs_of_dead_processes_are_swept_live_ones_kept(tmp_path):
    from flatbench.cache import host_tag

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    tmp = tmp_path / "train" / ".tmp"
    names = {"dead": f"abc-{dead.pid}@{host_tag()}-0a1b2c", "alive": f"abc-{os.getpid()}@{host_tag()}-0a1b2c",
             "other_host": f"abc-{dead.pid}@ffffff-0a1b2c", "legacy": "abc-0a1b2c3d"}
    for n in names.values():
        (tmp / n).mkdir(parents=True)
        (tmp / n / "model.pt").write_bytes(b"half")
    if host_tag() == "ffffff":  # pragma: no cover
        pytest.skip("host tag collides with the test's other host")
    # partial progress: kept for a stage still to finish, dropped for one committed already
    c = Cache(tmp_path)
    c.partial_dir("train", "unfinished")
    c.partial_dir("train", "committed")
    with c.writing("train", "committed") as d:
        write_manifest(d, "train", "committed", {}, {}, [], 0.1)
    # what a kill between the commit's rename and its clean-up of the partial progress leaves
    (c.partial_dir("train", "committed") / "records.1.jsonl").write_text("{}\n")
    assert c.sweep_stale() == 1
    assert sorted(p.name for p in tmp.iterdir()) == sorted(v for k, v in names.items() if k != "dead")
    assert [p.name for p in (tmp_path / "train" / ".partial").iterdir()] == ["unfinished"]


def test_truncated_input_is_reported_moved_aside_and_recomputed(copy_of, data_dir):
    cwd, keys = copy_of
    runs = cwd / "runs"
    model = runs / "train" / keys["train"] / "model.pt"
    size = model.stat().st_size
    with open(model, "r+b") as f:  # a disk that lost the end of the checkpoint
        f.truncate(size // 2)
    shutil.rmtree(runs / "evaluate" / keys["evaluate"])  # a dependent stage must read it
    r = run_tiny(cwd, data_dir, "--no-mlflow")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Traceback" not in r.stderr
    w = warnings_of(r.stderr)
    assert len(w) == 1, r.stderr
    assert f"train[cnn-trec-base-s13 r0] runs/train/{keys['train']}: model.pt is {size // 2} bytes, " \
           f"the manifest says {size}; moved to runs/train/.bad/{keys['train']}-" in w[0]
    assert w[0].endswith("recomputing")
    assert "2 stages, 1 cached, 1 to run" in r.stderr
    bad = list((runs / "train" / ".bad").iterdir())
    assert len(bad) == 1 and (bad[0] / "model.pt").stat().st_size == size // 2  # kept, not deleted
    c = Cache(runs)
    assert c.check("train", keys["train"], full=True) is None and c.done("evaluate", keys["evaluate"])
    assert (runs / "train" / keys["train"] / "model.pt").stat().st_size == size


def test_unreadable_manifest_of_a_cached_stage_is_recomputed_through_the_cli(copy_of, data_dir):
    cwd, keys = copy_of
    (cwd / "runs" / "evaluate" / keys["evaluate"] / MANIFEST).write_bytes(b"\x00\x00\x00")
    r = run_tiny(cwd, data_dir, "--no-mlflow")
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-3000:]
    w = warnings_of(r.stderr)
    assert len(w) == 1 and "manifest.json is unreadable" in w[0] and "moved to" in w[0]
    assert "2 stages, 1 cached, 1 to run" in r.stderr
    assert Cache(cwd / "runs").check("evaluate", keys["evaluate"], full=True) is None


def test_cache_verify_finds_bad_stages_and_repair_makes_the_next_run_recompute_them(copy_of, data_dir):
    cwd, keys = copy_of
    runs = cwd / "runs"
    r = flatbench("cache", "verify", cwd=cwd)
    assert r.returncode == 0 and "2 stages: 2 ok, 0 legacy (hashes recorded now), 0 bad" in r.stdout, r.stdout + r.stderr
    # a legacy manifest (the previous version's, without hashes) is accepted and hashed once
    mpath = runs / "evaluate" / keys["evaluate"] / MANIFEST
    m = json.loads(mpath.read_text())
    legacy = {k: v for k, v in m.items() if k != "files"}
    mpath.write_text(json.dumps(legacy, indent=1))
    # a flipped byte: same size, so only the hash sees it
    model = runs / "train" / keys["train"] / "model.pt"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    r = flatbench("cache", "verify", "--runs-dir", str(runs), cwd=cwd)
    assert r.returncode == 1, r.stderr
    assert f"bad: train/{keys['train']}: model.pt: content differs from the manifest's sha256" in r.stdout
    assert "2 stages: 0 ok, 1 legacy (hashes recorded now), 1 bad" in r.stdout
    assert "files" in json.loads(mpath.read_text())
    r = flatbench("cache", "verify", "--repair", cwd=cwd)
    assert r.returncode == 0 and f"repaired: train/{keys['train']}" in r.stdout, r.stdout + r.stderr
    assert "(1 moved aside; the next run recomputes them)" in r.stdout
    assert not (runs / "train" / keys["train"]).exists() and len(list((runs / "train" / ".bad").iterdir())) == 1
    r = run_tiny(cwd, data_dir, "--no-mlflow")
    assert r.returncode == 0 and "2 stages, 1 cached, 1 to run" in r.stderr, r.stderr[-3000:]
    r = flatbench("cache", "verify", cwd=cwd)
    assert r.returncode == 0 and "2 stages: 2 ok" in r.stdout
    r = flatbench("cache", "verify", "--runs-dir", "nope", cwd=cwd)
    assert_one_error_line(r, "runs dir nope does not exist")


def test_a_fresh_run_gives_the_cached_runs_bytes_and_cache_compare_says_so(copy_of, data_dir, tmp_path_factory):
    """Same key, same bytes: the tiny grid computed again from nothing, in another process and
    directory, gives the model and the evaluation the first run cached, file for file."""
    cwd, keys = copy_of
    fresh = tmp_path_factory.mktemp("fresh")
    r = run_tiny(fresh, data_dir, "--no-mlflow")
    assert r.returncode == 0 and "2 stages, 0 cached, 2 to run" in r.stderr, r.stderr[-3000:]
    r = flatbench("cache", "compare", str(fresh / "runs"), cwd=cwd)
    assert r.returncode == 0, r.stdout + r.stderr
    assert ("2 shared stages: 2 identical (evaluate 1, train 1), 0 differ; 0 only in runs, 0 only in "
            f"{fresh / 'runs'}") in r.stdout
    # a stage that gives other bytes (its manifest recording them, as a real rerun's would)
    model = fresh / "runs" / "train" / keys["train"] / "model.pt"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    mpath = model.parent / MANIFEST
    m = json.loads(mpath.read_text())
    m["files"] = file_table(model.parent)
    write_json(mpath, m)
    shutil.rmtree(fresh / "runs" / "evaluate")
    r = flatbench("cache", "compare", str(fresh / "runs"), cwd=cwd)
    assert r.returncode == 1
    assert f"differs: train/{keys['train']}: model.pt" in r.stdout
    assert "1 shared stages: 0 identical, 1 differ; 1 only in runs, 0 only in" in r.stdout
    assert_one_error_line(flatbench("cache", "compare", "nope", cwd=cwd), "runs dir nope does not exist")


# ----------------------------------------------------------------------------------------------
# MLflow outside the critical path


def mlflow_runs(db: Path) -> list[tuple]:
    """(key tag, stage tag, status) of every run in a sqlite store."""
    con = sqlite3.connect(db)
    try:
        q = ("SELECT (SELECT value FROM tags t WHERE t.run_uuid = r.run_uuid AND t.key = 'key'), "
             "(SELECT value FROM tags t WHERE t.run_uuid = r.run_uuid AND t.key = 'stage'), r.status FROM runs r")
        return sorted(con.execute(q).fetchall())
    finally:
        con.close()


def test_mlflow_store_that_cannot_be_written_is_one_warning_and_the_stage_survives(copy_of, data_dir):
    cwd, keys = copy_of
    shutil.rmtree(cwd / "runs" / "evaluate")  # one stage to compute
    r = run_tiny(cwd, data_dir, env={"MLFLOW_TRACKING_URI": "sqlite:////proc/no-such-dir/mlflow.db"})
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-3000:]
    w = warnings_of(r.stderr)
    assert len(w) == 1 and w[0].startswith("flatbench: warning: MLflow set-up failed (") and "catches up" in w[0]
    assert "[2/2] evaluate[cnn-trec-base-s13] done" in r.stderr
    assert Cache(cwd / "runs").check("evaluate", keys["evaluate"], full=True) is None


def test_mlflow_failure_during_a_stage_keeps_its_result_and_the_next_run_logs_it(copy_of, data_dir, capsys):
    import mlflow

    from flatbench.cells import load_grid
    from flatbench.executors.local import LocalExecutor
    from flatbench.stages import Context, plan
    from flatbench.tracking import PID_TAG, Tracker

    cwd, keys = copy_of
    shutil.rmtree(cwd / "runs" / "evaluate")
    uri = f"sqlite:///{cwd}/mlflow.db"
    grid = load_grid("table2", models="cnn", datasets="trec", methods="base",
                     hp_overrides={"epochs": 1, "vocab_extra": 500})
    stages, _ = plan(grid, str(data_dir))
    ctx = Context(Cache(cwd / "runs"), Tracker(uri=uri), str(data_dir), "table2")
    ctx.tracker.setup()
    client = mlflow.MlflowClient(uri)
    client.delete_experiment(ctx.tracker.experiment_id)  # someone deletes it in the UI mid-run
    capsys.readouterr()
    evaluate = stages[1]
    m = evaluate.run(ctx)
    w = warnings_of(capsys.readouterr().err)
    assert len(w) == 1 and w[0].startswith("flatbench: warning: MLflow logging of evaluate[cnn-trec-base-s13] "
                                           "failed (MlflowException: "), w
    assert m["metrics"]["test_acc"] > 0.3
    assert ctx.cache.check("evaluate", keys["evaluate"], full=True) is None  # the result is committed
    assert not ctx.tracker.enabled  # one line, then quiet for the rest of the run
    client.restore_experiment(ctx.tracker.experiment_id)
    assert mlflow_runs(cwd / "mlflow.db") == []
    # the next run meets both stages cached with no run: it logs them (one search for the grid)
    ctx = Context(Cache(cwd / "runs"), Tracker(uri=uri), str(data_dir), "table2")
    ctx.tracker.setup()
    LocalExecutor(echo=lambda *a, **k: None).run(stages, ctx)
    runs = mlflow_runs(cwd / "mlflow.db")
    assert runs == sorted([(keys["evaluate"], "evaluate", "FINISHED"), (keys["train"], "train", "FINISHED")])
    # a logger killed mid-way leaves its run RUNNING: the next run completes and closes it, once
    con = sqlite3.connect(cwd / "mlflow.db")
    rid = con.execute("SELECT run_uuid FROM tags WHERE key = 'key' AND value = ?", (keys["train"],)).fetchone()[0]
    con.execute("UPDATE runs SET status = 'RUNNING' WHERE run_uuid = ?", (rid,))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    import socket

    con.execute("UPDATE tags SET value = ? WHERE run_uuid = ? AND key = ?",
                (f"{socket.gethostname()}:{dead.pid}", rid, PID_TAG))
    con.execute("DELETE FROM metrics WHERE run_uuid = ?", (rid,))
    con.execute("DELETE FROM latest_metrics WHERE run_uuid = ?", (rid,))
    con.commit()
    con.close()
    ctx = Context(Cache(cwd / "runs"), Tracker(uri=uri), str(data_dir), "table2")
    ctx.tracker.setup()
    LocalExecutor(echo=lambda *a, **k: None).run(stages, ctx)
    assert mlflow_runs(cwd / "mlflow.db") == runs
    assert client.get_run(rid).data.metrics["dev_acc"] > 0


def test_kill_while_creating_the_mlflow_store_then_the_next_run_works(copy_of, data_dir):
    cwd, keys = copy_of
    env = {**os.environ, "FLATBENCH_DATA_DIR": str(data_dir)}
    killed = 0
    rng = random.Random(0)
    for _ in range(3):
        p = subprocess.Popen([sys.executable, "-m", "flatbench.cli", "run", *TINY], cwd=cwd, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t0 = time.time()
        while p.poll() is None and time.time() - t0 < 120:
            if list(cwd.glob(".mlflow.db.creating-*")):
                time.sleep(rng.uniform(0, 0.3))  # somewhere inside the creation and migration
                os.kill(p.pid, signal.SIGKILL)
                break
            time.sleep(0.005)
        p.wait()
        if p.returncode == -signal.SIGKILL:
            killed += 1
            assert not (cwd / "mlflow.db").exists() or mlflow_runs(cwd / "mlflow.db") is not None
        if (cwd / "mlflow.db").exists():
            break  # the creation finished before the kill: it is complete (one rename)
    assert killed >= 1
    r = run_tiny(cwd, data_dir)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-3000:]
    assert warnings_of(r.stderr) == []
    assert "MLflow: logged 2 cached stage(s)" in r.stderr
    assert mlflow_runs(cwd / "mlflow.db") == sorted([(keys["evaluate"], "evaluate", "FINISHED"),
                                                    (keys["train"], "train", "FINISHED")])
    assert not list(cwd.glob(".mlflow.db.creating-*"))
    r = run_tiny(cwd, data_dir)  # idempotent: nothing logged twice
    assert r.returncode == 0 and "MLflow: logged" not in r.stderr
    assert len(mlflow_runs(cwd / "mlflow.db")) == 2


@pytest.mark.parametrize("damage", ["half-migrated", "not a database"])
def test_half_made_store_of_an_older_version_is_moved_aside_and_made_afresh(copy_of, data_dir, damage):
    cwd, _ = copy_of
    if damage == "half-migrated":  # what a kill during an in-place creation and migration leaves
        con = sqlite3.connect(cwd / "mlflow.db")
        con.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        con.execute("INSERT INTO alembic_version VALUES ('451aebb31d03')")
        con.execute("CREATE TABLE experiments (experiment_id INTEGER)")
        con.commit()
        con.close()
    else:
        (cwd / "mlflow.db").write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 4)
    r = run_tiny(cwd, data_dir)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-3000:]
    w = warnings_of(r.stderr)
    assert len(w) == 1 and "was incomplete and held no runs" in w[0]
    assert len(list(cwd.glob("mlflow.db.broken-*"))) == 1 and len(mlflow_runs(cwd / "mlflow.db")) == 2


# ----------------------------------------------------------------------------------------------
# bad inputs: one line, exit 2, nothing in the runs dir


def _trec_copy(tmp_path, data_dir) -> Path:
    d = tmp_path / "data" / "trec"
    d.mkdir(parents=True)
    for f in ("labels.json", "train.jsonl", "test.jsonl", "dev_split.json"):
        (d / f).write_bytes((data_dir / "trec" / f).read_bytes())
    return d


def _edit_line(path: Path, i: int, new: bytes) -> None:
    lines = path.read_bytes().split(b"\n")
    lines[i] = new
    path.write_bytes(b"\n".join(lines))


DATA_CASES = {
    "not utf-8": (lambda d: _edit_line(d / "train.jsonl", 6, b'{"text": "caf\xe9 ?", "label": 1}'),
                  "train.jsonl:7: not UTF-8"),
    "not json": (lambda d: _edit_line(d / "train.jsonl", 2, b"hello"), "train.jsonl:3: malformed record (JSONDecodeError"),
    "missing field": (lambda d: _edit_line(d / "test.jsonl", 0, b'{"text": "what ?"}'),
                      "test.jsonl:1: malformed record (KeyError"),
    "label out of range": (lambda d: _edit_line(d / "test.jsonl", 4, b'{"text": "who ?", "label": 6}'),
                           "test.jsonl:5: label 6 is not in labels.json (0..5)"),
    "label a string": (lambda d: _edit_line(d / "test.jsonl", 4, b'{"text": "who ?", "label": "1"}'),
                       "test.jsonl:5: text must be a string and label an integer (got str and str)"),
    "empty split": (lambda d: (d / "test.jsonl").write_bytes(b"\n\n"), "test.jsonl: empty split"),
    "labels.json not json": (lambda d: (d / "labels.json").write_bytes(b"{0: ABBR"), "labels.json: not JSON"),
    "labels.json a list": (lambda d: (d / "labels.json").write_text('["a", "b"]'), "labels.json: unreadable label map"),
    "dev_split.json not utf-8": (lambda d: (d / "dev_split.json").write_bytes(b"\xff\xfe"), "dev_split.json: not UTF-8"),
}


@pytest.mark.parametrize("case", list(DATA_CASES))
def test_bad_data_file_is_one_line_exit_2(tmp_path, data_dir, case):
    edit, msg = DATA_CASES[case]
    edit(_trec_copy(tmp_path, data_dir))
    r = flatbench("run", *TINY, "--data-dir", str(tmp_path / "data"), cwd=tmp_path)
    assert_one_error_line(r, msg)
    assert files_under(tmp_path / "runs") == [] and not (tmp_path / "mlflow.db").exists()


HP_CASES = [
    (["--set", "epochs=abc"], 'epochs = "abc": must be an integer >= 1'),
    (["--set", "epochs=0"], "epochs = 0: must be an integer >= 1"),
    (["--set", "batch_size=1.5"], "batch_size = 1.5: must be an integer >= 1"),
    (["--set", "lr=-0.1"], "lr = -0.1: must be a finite number > 0"),
    (["--set", "lr=NaN"], "lr = NaN: must be a finite number > 0"),
    (["--set", "dropout=1.5"], "dropout = 1.5: must be a finite number in [0, 1)"),
    (["--set", "attack_test_n=0"], "attack_test_n = 0: must be an integer >= 1"),
    (["--set", "attack_train_n=true"], "attack_train_n = true: must be an integer >= 1 (or omit it)"),
    (["--set", "widths=[]"], "widths = []: must be a non-empty list of integers >= 1"),
    (["--seeds", "x"], "--seeds: seed 'x' must be an integer in 0..4294967295"),
    (["--seeds=-1"], "--seeds: seed '-1' must be an integer in 0..4294967295"),
]


@pytest.mark.parametrize("args,msg", HP_CASES, ids=[" ".join(a) for a, _ in HP_CASES])
def test_bad_hyper_parameter_is_one_line_exit_2(tmp_path, data_dir, args, msg):
    r = flatbench("run", "--grid", "smoke", *args, "--data-dir", str(data_dir), cwd=tmp_path)
    assert_one_error_line(r, msg)
    assert not (tmp_path / "runs").exists() and not (tmp_path / "mlflow.db").exists()


def _runs_dir_cases(tmp_path):
    (tmp_path / "afile").write_text("not a directory\n")
    ro = tmp_path / "readonly"
    ro.mkdir()
    ro.chmod(0o555)
    if os.access(ro, os.W_OK):  # root ignores modes: a read-only file system instead
        ro = Path("/sys/flatbench-runs")
    return {"a file where the dir should be": (tmp_path / "afile", "is not a directory"),
            "a file above it": (tmp_path / "afile" / "runs", "cannot be written"),
            "read-only": (ro, "cannot be written")}


@pytest.mark.parametrize("case", ["a file where the dir should be", "a file above it", "read-only"])
def test_runs_dir_that_cannot_be_written_is_one_line_exit_2(tmp_path, data_dir, case):
    runs, msg = _runs_dir_cases(tmp_path)[case]
    r = flatbench("run", *TINY, "--runs-dir", str(runs), "--data-dir", str(data_dir), cwd=tmp_path)
    assert_one_error_line(r, msg)
    assert (tmp_path / "afile").read_text() == "not a directory\n"
    assert not (tmp_path / "mlflow.db").exists()
    if runs.parent == tmp_path / "readonly":
        assert list(runs.parent.iterdir()) == []


def test_report_on_a_runs_dir_that_does_not_exist_is_one_line_exit_2(tmp_path):
    r = flatbench("report", "--grid", "smoke", "--runs-dir", "never-ran", cwd=tmp_path)
    assert_one_error_line(r, "runs dir never-ran does not exist")
    assert not (tmp_path / "never-ran").exists()


def test_empty_grid_axis_warns_when_it_drops_cells_and_errs_when_none_remain(tmp_path, data_dir):
    g = tmp_path / "g.toml"
    g.write_text('name = "g"\n[axes]\nmodels = ["cnn"]\ndatasets = ["trec"]\nmethods = ["base", "adv", "flat"]\n'
                 'attacks = []\nseeds = [13]\n[measure]\nclean = true\n[[hp]]\nembedding = "glove50"\n'
                 'epochs = 1\nbatch_size = 64\nlr = 0.001\n')
    r = flatbench("run", "--grid", str(g), "--dry-run", "--data-dir", str(data_dir), cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert warnings_of(r.stderr) == ["flatbench: warning: grid g: the attacks axis is empty, so the cells of "
                                     "adv, flat (which train with an attack) are dropped"]
    g.write_text(g.read_text().replace('models = ["cnn"]', "models = []"))
    r = flatbench("run", "--grid", str(g), "--data-dir", str(data_dir), cwd=tmp_path)
    assert_one_error_line(r, "grid g has no cell: the models axis is empty")
    assert warnings_of(r.stderr) == [] and not (tmp_path / "runs").exists()


# ----------------------------------------------------------------------------------------------
# the attack runner's partial files


def test_empty_or_corrupt_partial_deviations_json_is_ignored_and_rewritten(tiny_run, tmp_path, data_dir):
    from flatbench.attack_resources.catalog import ensure_nltk_env
    from flatbench.attacks.runner import _read_deviations, run_attack
    from flatbench.data import load_dataset

    ensure_nltk_env()
    src, keys = tiny_run
    model_dir = src / "runs" / "train" / keys["train"]
    trec = load_dataset("trec", data_dir)
    items = [(i, trec.test.texts[i], int(trec.test.labels[i])) for i in (0, 7)]
    part = tmp_path / "partial"
    part.mkdir()
    recs, _ = run_attack(model_dir, "pwws", items, part, workers=1, progress=False)
    good = _read_deviations(part / "deviations.json")
    assert good  # the attack's deviations from the paper's recipe
    for corrupt in (b"", b'["WordNet 3.0 instead of'):  # a kill mid-write of the previous version
        (part / "deviations.json").write_bytes(corrupt)
        with open(next(part.glob("records.*.jsonl")), "a") as f:
            f.write('{"idx": 7, "orig')  # and a record line cut by the kill
        again, stats = run_attack(model_dir, "pwws", items, part, workers=1, progress=False)
        assert again == recs and stats["deviations"] == sorted(good)
        assert _read_deviations(part / "deviations.json") == good


# ----------------------------------------------------------------------------------------------
# determinism: killed and resumed == uninterrupted, whatever OMP_NUM_THREADS says

DET = ["--grid", "smoke", "--models", "cnn", "--methods", "base,adv,flat", "--set", "epochs=1", "--set", "vocab_extra=500",
       "--set", "attack_test_n=10", "--set", "attack_train_n=10", "--set", "lime_pairs=2", "--set", "lime_samples=50",
       "--no-mlflow"]
# Fields that measure time or how a run went, not what it computed: the manifest's "finished" and
# "seconds" (also in its metrics), the attack's "seconds_per_example", "forward_share" and "resumed",
# the interpretation's "ig_seconds_per_pair" and "lime_seconds_per_pair" (manifest metrics only),
# the manifest's "files" table (sizes and hashes of the files compared here directly) and "load1",
# the machine's load average when the stage started and ended. Every output file, summary.json
# included, is compared byte for byte.
# what a stage's manifest says about how its process ran it, not what it computed ("warm": the
# process had attacked the same examples before, so its estimate differs too)
VOLATILE = {"finished", "seconds", "seconds_per_example", "forward_share", "resumed", "ig_seconds_per_pair",
            "lime_seconds_per_pair", "files", "load1", "warm", "estimate_seconds"}


def _scrub(obj):
    if isinstance(obj, dict):
        return {k: _scrub(v) for k, v in obj.items() if k not in VOLATILE}
    if isinstance(obj, list):
        return [_scrub(v) for v in obj]
    return obj


def cache_contents(runs: Path) -> dict:
    """{kind/key/file: bytes} of every committed output; manifest.json and summary.json without VOLATILE."""
    out = {}
    for kind, key in Cache(runs).stages():
        for p in sorted((runs / kind / key).rglob("*")):
            if p.is_file():
                rel = p.relative_to(runs).as_posix()
                if p.name == MANIFEST:
                    out[rel] = json.dumps(_scrub(json.loads(p.read_text())), sort_keys=True).encode()
                else:
                    out[rel] = p.read_bytes()
    return out


def _env(data_dir, omp: str | None) -> dict:
    env = {**os.environ, "FLATBENCH_DATA_DIR": str(data_dir), "FLATBENCH_ATTACK_WORKERS": "1"}
    env.pop("OMP_NUM_THREADS", None)
    if omp is not None:
        env["OMP_NUM_THREADS"] = omp
    return env


def _stage_seconds(stderr: str) -> dict:
    """{kind: shortest duration} from a run's "[i/n] kind[...] done in Xs" lines (a later stage of
    a kind can be much shorter than the first, which pays the process's resource loading)."""
    out: dict = {}
    for m in re.finditer(r"\] (\w+)\[.*?\] done in ([\d.]+)s", stderr):
        out[m.group(1)] = min(out.get(m.group(1), float("inf")), float(m.group(2)))
    return out


def _committed(runs: Path) -> collections.Counter:
    return collections.Counter(k for k, _ in Cache(runs).stages()) if runs.is_dir() else collections.Counter()


def _in_progress(runs: Path, stale: set = frozenset()) -> set:
    """Kinds whose stage is being written right now: a commit's temporary directory exists that
    is not one a killed process left behind (``stale``; the next run sweeps those)."""
    return {p.parent.parent.name for p in runs.glob("*/.tmp/*") if p not in stale}


def test_killed_and_resumed_run_is_byte_identical_to_an_uninterrupted_one(tmp_path, data_dir):
    """Eight SIGKILLs, each inside a stage of a chosen kind (train, attack, interpret; evaluate
    when one is caught), alternating OMP_NUM_THREADS unset / 1, then a resume: every output equals
    the uninterrupted run's byte for byte."""
    cmd = [sys.executable, "-m", "flatbench.cli", "run", *DET]
    r = subprocess.run([*cmd, "--runs-dir", "A"], cwd=tmp_path, env=_env(data_dir, "1"), capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0 and "16 stages, 0 cached, 16 to run" in r.stderr, r.stderr[-3000:]  # 15 + correlate
    secs = _stage_seconds(r.stderr)
    rng = random.Random(int(os.environ.get("FLATBENCH_KILL_SEED", "2026")))
    runs = tmp_path / "C"
    targets = ["train", "attack", "interpret", "train", "attack", "interpret", "attack", "train"]
    total = _committed(tmp_path / "A")
    kills = []  # (target kind, kinds in progress at the kill, OMP_NUM_THREADS, return code)
    for i, kind in enumerate(targets):
        left = total - _committed(runs)
        if not left[kind]:  # every stage of that kind already done: aim at the kind with most left
            kind = max(left, key=left.get, default=kind)
        omp = None if i % 2 == 0 else "1"
        stale = set(runs.glob("*/.tmp/*"))
        p = subprocess.Popen([*cmd, "--runs-dir", "C"], cwd=tmp_path, env=_env(data_dir, omp),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 300
        while p.poll() is None and kind not in _in_progress(runs, stale) and time.time() < deadline:
            time.sleep(0.02)
        if p.poll() is None:  # inside a `kind` stage (or past the deadline): kill somewhere in it
            time.sleep(rng.uniform(0.0, 0.8) * secs.get(kind, 1.0))
            busy = _in_progress(runs, stale)
            p.send_signal(signal.SIGKILL)
        else:
            busy = set()
        p.wait()
        kills.append((kind, sorted(busy), omp, p.returncode))
        if p.returncode == 0:
            break  # the run finished before every target was reached: resume below has nothing to do
    r = subprocess.run([*cmd, "--runs-dir", "C"], cwd=tmp_path, env=_env(data_dir, "1"), capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0 and "Traceback" not in r.stderr, (kills, r.stderr[-3000:])
    killed = [k for k in kills if k[3] == -signal.SIGKILL]
    assert len(killed) >= 8, kills
    assert {"train", "attack", "interpret"} <= {b for k in killed for b in k[1]}, kills
    assert {k[2] for k in killed} == {None, "1"}, kills
    a, c = cache_contents(tmp_path / "A"), cache_contents(runs)
    assert sorted(a) == sorted(c) and len(a) > 20
    differ = [k for k in a if a[k] != c[k]]
    assert differ == [], (kills, differ)
    # the kills' leftovers are gone: temporary directories swept, partial progress consumed
    assert [p for p in runs.glob("*/.tmp/*")] == [] and [p for p in runs.glob("*/.partial/*")] == []


def test_bad_attack_worker_count_is_one_line(monkeypatch):
    import pytest

    from flatbench.attacks.stage import attack_workers
    from flatbench.errors import ConfigError

    monkeypatch.setenv("FLATBENCH_ATTACK_WORKERS", "abc")
    with pytest.raises(ConfigError, match="FLATBENCH_ATTACK_WORKERS"):
        attack_workers(500)
    monkeypatch.setenv("FLATBENCH_ATTACK_WORKERS", "3")
    assert attack_workers(500) == 3
