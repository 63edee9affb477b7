"""The Ray executor, as a user runs it: a real local Ray instance, real stages, the shared cache."""

import pytest

from test_cli import flatbench
from test_reliability import cache_contents

pytest.importorskip("ray")

SEL = ["--grid", "smoke", "--models", "cnn", "--methods", "base", "--set", "epochs=1", "--set", "vocab_extra=500",
       "--set", "attack_test_n=12", "--set", "lime_pairs=3", "--set", "lime_samples=50"]


def test_ray_runs_the_stages_into_the_cache_local_resumes(tmp_path, data_dir):
    env = {"FLATBENCH_DATA_DIR": str(data_dir), "FLATBENCH_ATTACK_WORKERS": "1", "RAY_DISABLE_USAGE_STATS": "1"}
    r = flatbench("run", *SEL, "--executor", "ray", "--no-mlflow", cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "4 stages, 0 cached, 4 submitted to Ray" in r.stderr
    for i, stage in enumerate(["train[cnn-trec-base-s13 r0]", "evaluate[cnn-trec-base-s13]"], 1):
        assert f"[{i}/4] {stage} done in" in r.stderr  # dependency order: train before evaluate
    assert "| PWWS     | CNN     | base     | TREC      |" in r.stdout
    assert len(list((tmp_path / "runs").rglob("manifest.json"))) == 4
    # the local executor finds every stage Ray wrote: same keys, complete manifests
    r2 = flatbench("run", *SEL, "--no-mlflow", cwd=tmp_path, env=env)
    assert r2.returncode == 0 and "4 stages, 4 cached, 0 to run" in r2.stderr
    rows = lambda out: [line for line in out.splitlines() if "| CNN" in line]  # noqa: E731
    assert rows(r.stdout) == rows(r2.stdout) and len(rows(r.stdout)) == 3
    # the local executor from scratch, in another cache: every output byte-identical to Ray's
    r3 = flatbench("run", *SEL, "--no-mlflow", "--runs-dir", "L", cwd=tmp_path, env=env)
    assert r3.returncode == 0 and "4 stages, 0 cached, 4 to run" in r3.stderr, r3.stderr[-3000:]
    ray_out, local_out = cache_contents(tmp_path / "runs"), cache_contents(tmp_path / "L")
    assert sorted(ray_out) == sorted(local_out) and len(ray_out) >= 10
    assert [k for k in ray_out if ray_out[k] != local_out[k]] == []


def test_ray_stage_failure_is_one_line_exit_2(tmp_path, data_dir):
    r = flatbench("run", "--grid", "table2", "--models", "cnn", "--datasets", "trec", "--methods", "base",
                  "--set", "grad_clip=NaN", "--set", "epochs=1", "--set", "vocab_extra=500", "--no-mlflow",
                  "--executor", "ray", "--data-dir", str(data_dir), cwd=tmp_path, env={"RAY_DISABLE_USAGE_STATS": "1"})
    assert r.returncode == 2, r.stderr[-3000:]
    assert r.stderr.strip().splitlines()[-1].startswith("flatbench: error: train[cnn-trec-base-s13 r0]: loss became nan")
    assert not list((tmp_path / "runs").rglob("manifest.json"))
