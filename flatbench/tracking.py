"""MLflow: one run per executed stage, tagged with its grid and cell.

The stage cache is what the program trusts; MLflow is the record people browse. Default
store: sqlite:///<cwd>/mlflow.db with artifacts in <cwd>/mlartifacts. The driver creates the
experiment before any stage runs, because workers racing to create a fresh sqlite DB corrupt it.
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from pathlib import Path

EXPERIMENT = "flatbench"


class Tracker:
    def __init__(self, uri: str | None = None, enabled: bool = True, experiment: str = EXPERIMENT):
        self.enabled = enabled and os.environ.get("FLATBENCH_MLFLOW", "1") != "0"
        self.uri = uri or os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd().resolve()}/mlflow.db"
        self.experiment = experiment
        self.experiment_id = None

    def setup(self) -> None:
        if not self.enabled:
            return
        for name in ("mlflow", "alembic", "sqlalchemy"):
            logging.getLogger(name).setLevel(logging.WARNING)
        import fcntl

        import mlflow

        mlflow.set_tracking_uri(self.uri)
        db = Path(self.uri[len("sqlite:///"):]) if self.uri.startswith("sqlite:///") else None
        # Two drivers starting in one directory would both create and migrate a fresh sqlite DB
        # and corrupt it: serialise the creation with a lock file beside the DB.
        lock = open(db.with_suffix(".lock"), "w") if db else None
        try:
            if lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
            exp = mlflow.get_experiment_by_name(self.experiment)
            if exp is None:
                art = (db.parent / "mlartifacts").resolve().as_uri() if db else None
                self.experiment_id = mlflow.create_experiment(self.experiment, artifact_location=art)
            else:
                self.experiment_id = exp.experiment_id
        finally:
            if lock:
                lock.close()

    @contextmanager
    def stage_run(self, name: str, tags: dict, params: dict):
        """Yields a logger with .metrics(dict) and .artifact(path)."""
        if not self.enabled:
            yield _NullLog()
            return
        import mlflow
        from mlflow.entities import Metric, Param, RunTag

        client = mlflow.MlflowClient(self.uri)
        run = client.create_run(self.experiment_id, run_name=name,
                                tags={k: str(v) for k, v in tags.items()})
        rid = run.info.run_id
        flat = _flatten(params)
        # MLflow caps a param value at 6000 characters and a batch at 100 params.
        items = [Param(k[:250], str(v)[:6000]) for k, v in flat.items()]
        for i in range(0, len(items), 100):
            client.log_batch(rid, params=items[i : i + 100])
        log = _RunLog(client, rid, Metric, RunTag)
        status = "FAILED"
        try:
            yield log
            status = "FINISHED"
        finally:
            log.flush()
            client.set_terminated(rid, status)


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


class _NullLog:
    def metrics(self, m: dict, step: int = 0) -> None:
        pass

    def artifact(self, path) -> None:
        pass

    def tag(self, k, v) -> None:
        pass


class _RunLog:
    def __init__(self, client, rid, Metric, RunTag):
        self.client, self.rid, self.Metric, self.RunTag = client, rid, Metric, RunTag
        self.pending = []

    def metrics(self, m: dict, step: int = 0) -> None:
        import time

        ts = int(time.time() * 1000)
        for k, v in _flatten(m).items():
            if isinstance(v, int | float) and v == v:  # skip NaN and non-numbers
                self.pending.append(self.Metric(k[:250], float(v), ts, step))

    def tag(self, k, v) -> None:
        self.client.set_tag(self.rid, k, str(v))

    def artifact(self, path) -> None:
        self.client.log_artifact(self.rid, str(path))

    def flush(self) -> None:
        for i in range(0, len(self.pending), 1000):
            self.client.log_batch(self.rid, metrics=self.pending[i : i + 1000])
        self.pending = []
