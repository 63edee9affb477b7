"""MLflow: one run per stage, tagged with its grid, cell and stage key.

The stage cache is what the program trusts; MLflow is the record people browse, and it stays
off the critical path:
  * a stage's result is committed to the cache first and logged afterwards (`log_stage`);
  * logging is idempotent by stage key (tag ``key``): a stage with a FINISHED run is not logged
    again; an unfinished run of a stage whose logger died (RUNNING forever after a kill) is
    completed and closed; a committed stage with no run gets one;
  * the next run that meets stages cached catches up on them with one search per grid
    (`reconcile`), not one per stage;
  * any MLflow failure is one warning line; tracking is then off for the rest of the process
    (the next run catches up), and no stage result is ever lost to it.
Default store: sqlite:///<cwd>/mlflow.db with artifacts in <cwd>/mlartifacts. The driver creates
the store before any stage runs, under a lock file, in a temporary file that is renamed into
place once migrated, so a kill at any instant leaves either no store or a complete one. A store
left half-made by an older version (no runs in it) is moved aside and made afresh.
"""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from flatbench.cache import pid_alive
from flatbench.notices import first_line, warn

EXPERIMENT = "flatbench"
PID_TAG = "flatbench.pid"  # host:pid of the process logging a run (a RUNNING run of a live one is left alone)


@contextmanager
def _locked(path: Path | None):
    if path is None:
        yield
        return
    import fcntl

    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _fsync(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


class Tracker:
    def __init__(self, uri: str | None = None, enabled: bool = True, experiment: str = EXPERIMENT):
        self.enabled = enabled and os.environ.get("FLATBENCH_MLFLOW", "1") != "0"
        self.uri = uri or os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd().resolve()}/mlflow.db"
        self.experiment = experiment
        self.experiment_id = None

    # -- failures ------------------------------------------------------------------------------

    def _fail(self, what: str, e: BaseException) -> None:
        self.enabled = False
        warn(f"MLflow {what} failed ({first_line(e)}); stage results are cached regardless; MLflow "
             f"logging is off for the rest of this run and catches up on the next ({self.uri})")

    # -- the store -----------------------------------------------------------------------------

    @property
    def _db(self) -> Path | None:
        return Path(self.uri[len("sqlite:///"):]) if self.uri.startswith("sqlite:///") else None

    def setup(self) -> None:
        """Create (or open) the store and the experiment. Never raises: a failure is one warning
        line and tracking is off for this run."""
        if not self.enabled:
            return
        try:
            self._setup()
        except Exception as e:  # MLflow and its database layers raise many types
            self._fail("set-up", e)

    def _setup(self) -> None:
        for name in ("mlflow", "alembic", "sqlalchemy"):
            logging.getLogger(name).setLevel(logging.WARNING)
        db = self._db
        # Two drivers starting in one directory would both create a fresh sqlite DB: the creation
        # and the experiment's are serialised by a lock file beside the DB.
        if db is not None:
            db.parent.mkdir(parents=True, exist_ok=True)
        with _locked(db.with_suffix(".lock") if db else None):
            if db is not None:
                self._heal(db)
                if not db.exists():
                    self._create_sqlite(db)
            # A client on our URI, not mlflow.set_tracking_uri: that would also set the process's
            # MLFLOW_TRACKING_URI, which every subprocess started later would inherit.
            client = self._client()
            exp = client.get_experiment_by_name(self.experiment)
            if exp is None:
                art = (db.parent / "mlartifacts").resolve().as_uri() if db else None
                self.experiment_id = client.create_experiment(self.experiment, artifact_location=art)
            else:
                self.experiment_id = exp.experiment_id

    def _create_sqlite(self, db: Path) -> None:
        """Create and migrate a fresh store in a temporary file, then rename it into place."""
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        for stale in db.parent.glob(f".{db.name}.creating-*"):  # a creation killed earlier (we hold the lock)
            stale.unlink(missing_ok=True)
        tmp = db.parent / f".{db.name}.creating-{os.getpid()}"
        uri = f"sqlite:///{tmp}"
        art = (db.parent / "mlartifacts").resolve().as_uri()
        try:
            store = SqlAlchemyStore(uri, art)
            store.create_experiment(self.experiment, artifact_location=art)
        finally:
            engine = getattr(SqlAlchemyStore, "_engine_map", {}).pop(uri, None)  # MLflow caches engines by URI
            if engine is not None:
                engine.dispose()
        _fsync(tmp)
        os.replace(tmp, db)
        _fsync(db.parent)

    def _heal(self, db: Path) -> None:
        """Move aside a store that holds no runs and is not a complete MLflow database (e.g. one a
        kill cut short while an older version created it in place); it is then made afresh."""
        if not db.exists():
            return
        try:
            con = sqlite3.connect(db.resolve().as_uri() + "?mode=ro", uri=True)
            try:
                names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
                runs = con.execute("SELECT count(*) FROM runs").fetchone()[0] if "runs" in names else 0
                version = (con.execute("SELECT version_num FROM alembic_version").fetchone() or [None])[0] \
                    if "alembic_version" in names else None
            finally:
                con.close()
        except sqlite3.OperationalError:  # locked, or cannot be opened: MLflow will say what is wrong
            return
        except sqlite3.DatabaseError:  # not a database at all (e.g. a truncated file)
            runs, version = 0, None
        if runs:
            return
        from mlflow.store.db.utils import _get_latest_schema_revision

        if version == _get_latest_schema_revision():
            return
        dest = db.with_name(f"{db.name}.broken-{time.strftime('%Y%m%dT%H%M%S')}")
        os.replace(db, dest)
        warn(f"MLflow store {db} was incomplete and held no runs (a creation cut short?); moved to "
             f"{dest.name}; a fresh one is created")

    # -- runs ----------------------------------------------------------------------------------

    def _client(self):
        import mlflow

        return mlflow.MlflowClient(self.uri)

    def log_stage(self, stage, manifest: dict, grid: str, stage_dir: Path) -> None:
        """Log a committed stage (idempotent: nothing when a FINISHED run has its key). Never raises."""
        if not self.enabled or self.experiment_id is None:
            return
        try:
            client = self._client()
            runs = client.search_runs([self.experiment_id], filter_string=f"tags.key = '{stage.key}'",
                                      max_results=100)
            self._settle(client, stage, manifest, grid, stage_dir, runs)
        except Exception as e:
            self._fail(f"logging of {stage.label()}", e)

    def reconcile(self, cached, grid: str) -> int:
        """Catch up on stages met cached: [(stage, manifest, stage directory)]. One search over the experiment's
        runs; a stage with no FINISHED run gets one (an unfinished run of a dead logger is
        completed). Returns how many stages were logged. Never raises."""
        if not self.enabled or self.experiment_id is None or not cached:
            return 0
        n = 0
        try:
            client = self._client()
            by_key: dict[str, list] = {}
            token = None
            while True:
                page = client.search_runs([self.experiment_id], filter_string="", max_results=5000,
                                          page_token=token)
                for r in page:
                    k = r.data.tags.get("key")
                    if k:
                        by_key.setdefault(k, []).append(r)
                token = page.token
                if not token:
                    break
            for stage, m, d in cached:
                runs = by_key.get(stage.key, [])
                if any(r.info.status == "FINISHED" for r in runs) and not any(self._stale(r) for r in runs):
                    continue
                n += self._settle(client, stage, m, grid, d, runs, backfill=True)
        except Exception as e:
            self._fail("catch-up of cached stages", e)
        if n:
            print(f"MLflow: logged {n} cached stage(s) that had no finished run", file=sys.stderr)
        return n

    @staticmethod
    def _stale(run) -> bool:
        """An unfinished run whose logger is gone (or unknown: older versions logged no pid)."""
        if run.info.status not in ("RUNNING", "SCHEDULED"):
            return False
        who = run.data.tags.get(PID_TAG, "")
        host, _, pid = who.rpartition(":")
        if host == socket.gethostname() and pid.isdigit():
            return not pid_alive(int(pid))
        return True

    def _settle(self, client, stage, manifest: dict, grid: str, stage_dir: Path, runs,
                backfill: bool = False) -> int:
        """Make the stage's key have exactly one FINISHED run (unless a live process is logging it).
        Returns 1 when something was logged."""
        from mlflow.entities import Metric, Param, RunTag

        finished = [r for r in runs if r.info.status == "FINISHED"]
        stale = [r for r in runs if self._stale(r)]
        live = [r for r in runs if r.info.status in ("RUNNING", "SCHEDULED") and not self._stale(r)]
        if finished:
            for r in stale:
                client.set_terminated(r.info.run_id, "KILLED")
            return 0
        if live:
            return 0
        tags = {**stage.tags(), "grid": grid, "key": stage.key, PID_TAG: f"{socket.gethostname()}:{os.getpid()}"}
        if backfill:
            tags["flatbench.logged"] = "after the fact (stage met cached)"
        if stale:
            run = stale[-1]
            for r in stale[:-1]:
                client.set_terminated(r.info.run_id, "KILLED")
            rid = run.info.run_id
            have_params, have_metrics = dict(run.data.params), set(run.data.metrics)
            client.log_batch(rid, tags=[RunTag(k, str(v)) for k, v in tags.items()])
        else:
            run = client.create_run(self.experiment_id, run_name=stage.label(),
                                    tags={k: str(v) for k, v in tags.items()})
            rid, have_params, have_metrics = run.info.run_id, {}, set()
        # MLflow caps a param value at 6000 characters and a batch at 100 params.
        params = [Param(k[:250], str(v)[:6000]) for k, v in _flatten({"spec": manifest.get("spec", {})}).items()
                  if k[:250] not in have_params]
        for i in range(0, len(params), 100):
            client.log_batch(rid, params=params[i : i + 100])
        ts = int(time.time() * 1000)
        metrics = [Metric(k[:250], float(v), ts, 0) for k, v in _flatten(manifest.get("metrics", {})).items()
                   if isinstance(v, int | float) and not isinstance(v, bool) and v == v and k[:250] not in have_metrics]
        for i in range(0, len(metrics), 1000):
            client.log_batch(rid, metrics=metrics[i : i + 1000])
        if stage_dir is not None and (Path(stage_dir) / "manifest.json").is_file():
            client.log_artifact(rid, str(Path(stage_dir) / "manifest.json"))
        client.set_terminated(rid, "FINISHED")
        return 1


def run_ids(uri: str | None, keys) -> tuple[dict, str]:
    """({stage key: (run id, experiment id, status)}, note) of the active runs tagged key=<stage key>
    in the MLflow store at `uri`, through MLflow's client (a FINISHED run is preferred, then the
    latest). Read only: a sqlite store that does not exist is not created (empty dict and why);
    any failure is the empty dict and its reason."""
    if not uri:
        return {}, "no MLflow tracking URI: runs not looked up"
    db = Path(uri[len("sqlite:///"):]) if uri.startswith("sqlite:///") else None
    if db is not None and not db.is_file():
        return {}, f"no MLflow store at {db}"
    wanted = set(keys)
    found: dict = {}
    for name in ("mlflow", "alembic", "sqlalchemy"):
        logging.getLogger(name).setLevel(logging.WARNING)
    old = {k: os.environ.get(k) for k in ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT")}
    os.environ.update(MLFLOW_HTTP_REQUEST_MAX_RETRIES="0", MLFLOW_HTTP_REQUEST_TIMEOUT="10")
    try:
        import mlflow

        client = mlflow.MlflowClient(uri)
        exps = [e.experiment_id for e in client.search_experiments()]
        token = None
        while exps:
            page = client.search_runs(exps, filter_string="", max_results=5000, page_token=token)
            for r in page:
                key = r.data.tags.get("key")
                if key in wanted:
                    rank = (r.info.status == "FINISHED", r.info.start_time or 0)
                    if key not in found or rank > found[key][0]:
                        found[key] = (rank, (r.info.run_id, str(r.info.experiment_id), r.info.status))
            token = page.token
            if not token:
                break
    except Exception as e:  # MLflow and its stores raise many types; a report never fails on it
        return {}, f"MLflow store {uri} could not be read ({first_line(e)})"
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    where = f"MLflow store: {db}" if db is not None else f"MLflow store: {uri}"
    return {k: v[1] for k, v in found.items()}, f"{where} (open with: mlflow ui --backend-store-uri {uri})"


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out
