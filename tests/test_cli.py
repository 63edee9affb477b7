"""The CLI as a user runs it: real subprocesses, real data, real MLflow (sqlite in a tmp dir)."""

import os
import subprocess
import sys

import pytest


def flatbench(*args, cwd, env=None):
    e = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "flatbench.cli", *args], cwd=cwd, env=e,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("args,msg", [
    (["run", "--grid", "nope"], "unknown grid 'nope'; valid: attack_validation, defences_cpu, smoke"),
    (["run", "--grid", "smoke", "--models", "gpt2"], "unknown model 'gpt2'; valid:"),
    (["run", "--grid", "smoke", "--data-dir", "/no/such/dir"], "data directory /no/such/dir does not exist"),
    (["run", "--grid", "smoke", "--set", "epochs"], "expected KEY=VALUE"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, msg):
    r = flatbench(*args, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    err = r.stderr.strip().splitlines()
    assert err[-1].startswith("flatbench: error: ") and msg in err[-1]
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("manifest.json"))


def test_malformed_data_file_exit_2_nothing_written(tmp_path, data_dir):
    bad = tmp_path / "data" / "trec"
    bad.mkdir(parents=True)
    for f in ("labels.json", "test.jsonl", "dev_split.json"):
        (bad / f).write_bytes((data_dir / "trec" / f).read_bytes())
    lines = (data_dir / "trec" / "train.jsonl").read_text().splitlines()
    lines[41] = lines[41][:-3]
    (bad / "train.jsonl").write_text("\n".join(lines) + "\n")
    r = flatbench("run", "--grid", "smoke", "--data-dir", str(tmp_path / "data"), "--no-mlflow", cwd=tmp_path)
    assert r.returncode == 2
    assert "train.jsonl:42: malformed record" in r.stderr.strip().splitlines()[-1]
    assert not list((tmp_path / "runs").rglob("manifest.json")) if (tmp_path / "runs").exists() else True


def test_smoke_run_then_cached_rerun_then_report(tmp_path, data_dir):
    env = {"FLATBENCH_DATA_DIR": str(data_dir)}
    sel = ["--grid", "smoke", "--models", "cnn", "--methods", "base", "--set", "epochs=1", "--set", "vocab_extra=500",
           "--set", "attack_test_n=12", "--set", "lime_pairs=3", "--set", "lime_samples=50"]
    r1 = flatbench("run", *sel, cwd=tmp_path, env=env)
    assert r1.returncode == 0, r1.stderr
    assert "4 stages, 0 cached, 4 to run" in r1.stderr
    assert "| PWWS     | CNN     | base     | TREC      |" in r1.stdout  # Table 3 row: AA, KT, TI
    assert "| CNN     | base     | TREC      | 91.20   |" in r1.stdout  # Table 2 row
    assert "GloVe 6B 50-d" in r1.stdout  # the embedding deviation is printed
    r2 = flatbench("run", *sel, cwd=tmp_path, env=env)
    assert "4 stages, 4 cached, 0 to run" in r2.stderr
    table = lambda out: [line for line in out.splitlines() if "| CNN" in line]  # noqa: E731
    assert table(r1.stdout) == table(r2.stdout) and len(table(r1.stdout)) == 3
    r3 = flatbench("report", *sel, "--format", "latex", cwd=tmp_path, env=env)
    assert r3.returncode == 0 and "\\toprule" in r3.stdout and "91.20" in r3.stdout
    # MLflow: one run per executed stage, tagged with grid/cell/stage
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    runs = mlflow.search_runs(experiment_names=["flatbench"])
    assert sorted(runs["tags.stage"]) == ["attack", "evaluate", "interpret", "train"]
    assert set(runs["tags.cell"]) == {"cnn-trec-base-s13"} and set(runs["tags.grid"]) == {"smoke"}
    ev = runs[runs["tags.stage"] == "evaluate"].iloc[0]
    assert 0.5 < ev["metrics.test_acc"] <= 1.0


def test_list_and_datasets(tmp_path, data_dir):
    r = flatbench("list", cwd=tmp_path)
    assert "models:   lstm cnn bert deberta" in r.stdout and "table3" in r.stdout
    r = flatbench("datasets", "--data-dir", str(data_dir), cwd=tmp_path)
    assert r.returncode == 0 and "| sst2" in r.stdout and "6920 (6920)" in r.stdout


def test_nan_loss_is_one_line_exit_2_and_leaves_nothing(tmp_path, data_dir):
    r = flatbench("run", "--grid", "table2", "--models", "cnn", "--datasets", "trec", "--methods", "base",
                  "--set", "grad_clip=NaN", "--set", "epochs=1", "--set", "vocab_extra=500", "--no-mlflow",
                  "--data-dir", str(data_dir), cwd=tmp_path)
    assert r.returncode == 2
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("flatbench: error: train[cnn-trec-base-s13 r0]: loss became nan")
    assert "Traceback" not in r.stderr
    assert not list((tmp_path / "runs").rglob("manifest.json"))
    assert not any((tmp_path / "runs" / "train" / ".tmp").iterdir())
    r = flatbench("run", "--grid", "table2", "--models", "cnn", "--datasets", "trec", "--methods", "base",
                  "--set", "lr=NaN", "--no-mlflow", "--data-dir", str(data_dir), cwd=tmp_path)
    assert r.returncode == 2 and "lr = NaN: must be a finite number > 0" in r.stderr.strip().splitlines()[-1]
