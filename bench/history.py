"""Cost against history: the calls a live farm makes, on an empty database and on one that
has finished N renders, in the same run.

    .venv/bin/python -m bench.history [--renders 1000000] [--databases sqlite,postgresql]
                                      [--repeat 7] [--only /status]

Each database kind gets two databases (PostgreSQL: new ones on 127.0.0.1:5432, as the tests
make them): both hold the same probe user (projects of 5,000 and 500 assets, ten small ones,
an analysed video file); the second also holds the history, bulk-inserted with SQL: N
finished renders (asset, job and `render_finishes` rows; 80 % uploaded, 10 % failed, 10 %
canceled, a delivered webhook on every fifth) over the past year, spread over 1,000 users
(the probe user among them) and 20,000 projects. PostgreSQL is ANALYZEd (as autovacuum
would); SQLite is left as a farm leaves it.

Each call runs in this process (the Flask app's test client, or the function the worker
calls), alternately on both databases: one unmeasured warm-up, then `--repeat` times; the
median is printed, with its ratio to the empty database. Goal: every ratio <= 2 and
/metrics under 50 ms. The 5,000-asset project's answer against the 500-asset one's says what
an asset costs it (10: all of it per asset).
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text

from bench.farm import DATABASES, database
from shared import finishes, job_reaping, jobs, piece_reaping, totals
from shared.cli import create_user
from shared.config import Settings
from shared.db import Database
from shared.models import Asset, Project, VideoFile, utcnow
from shared.states import MediaState
from tests.fixtures.livesrv import RedisServer

USERS = 1000
PROJECTS = 20000
BIG_PROJECT_ASSETS = 5000
MID_PROJECT_ASSETS = 500  # the big project's answer against this one's: its cost per asset
SMALL_PROJECTS = 10
SWEEP_CANDIDATES = 1000
YEAR_S = 365 * 86400


def seq(dialect: str, count: int) -> str:
    """A FROM clause of the integers 1..count, named seq(n)."""
    if dialect == "postgresql":
        return f"generate_series(1, {count}) AS seq(n)"
    return (f"(WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {count}) "
            "SELECT n FROM s) AS seq")


def ident(dialect: str, prefix: str, number: str) -> str:
    """A 36-character id, `prefix` (8 hex digits) and `number` zero-padded."""
    head = f"'{prefix}-0000-4000-8000-'"
    if dialect == "postgresql":
        return f"{head} || lpad(({number})::text, 12, '0')"
    return f"printf('{prefix}-0000-4000-8000-%012d', {number})"


def ago(dialect: str, seconds: str) -> str:
    """:now less `seconds` (an SQL expression)."""
    if dialect == "postgresql":
        return f"CAST(:now AS timestamp) - make_interval(secs => ({seconds}))"
    return f"strftime('%Y-%m-%d %H:%M:%f', :now, '-' || ({seconds}) || ' seconds')"


def seed_history(db: Database, renders: int, probe_user: str) -> None:
    """`renders` finished renders of 1,000 users in 20,000 projects (user 0 is `probe_user`)."""
    d = db.engine.dialect.name
    user = (f"CASE WHEN ({{n}}) % {USERS} = 0 THEN :probe "
            f"ELSE {ident(d, '00000001', '({n}) % ' + str(USERS))} END")
    owner = user.format(n="n")
    state = "CASE WHEN n % 10 = 0 THEN 'failed' WHEN n % 10 = 1 THEN 'canceled' ELSE 'uploaded' END"
    uploaded = "n % 10 > 1"
    finished = ago(d, f"n * {YEAR_S / max(renders, 1):.6f}")
    created = ago(d, f"n * {YEAR_S / max(renders, 1):.6f} + 60 + n % 600")
    project = ident(d, "00000002", f"n % {PROJECTS}")
    statements = [
        f"INSERT INTO users (id, email, name, avatar, is_verified, is_active, created_at) "
        f"SELECT {ident(d, '00000001', 'n')}, 'h' || n || '@history', 'h', '', true, true, "
        f"{ago(d, str(YEAR_S))} FROM {seq(d, USERS - 1)}",
        f"INSERT INTO projects (id, owner_id, name, description, created_at) "
        f"SELECT {ident(d, '00000002', 'n % ' + str(PROJECTS))}, "
        f"{user.format(n='(n % ' + str(PROJECTS) + ')')}, 'history', '', "
        f"{ago(d, f'{YEAR_S} + n')} FROM {seq(d, PROJECTS)}",
        f"INSERT INTO assets (id, owner_id, project_id, keyname, asset_type, uploaded, progress, "
        f"warnings, status, created_at, updated_at, revision, pieces_done, size, duration, "
        f"storage_key, filename, error) "
        f"SELECT {ident(d, '00000003', 'n')}, {owner}, {project}, 'out.mp4', 'generated_video', "
        f"{uploaded}, 1.0, '[]', {state}, {created}, {finished}, 3, 0, "
        f"CASE WHEN {uploaded} THEN 1000000 + n END, CASE WHEN {uploaded} THEN 1 + n % 120 END, "
        f"CASE WHEN {uploaded} THEN 'k/' || n END, 'out.mp4', "
        f"CASE WHEN n % 10 = 0 THEN 'RenderError: history' END FROM {seq(d, renders)}",
        f"INSERT INTO render_jobs (id, owner_id, asset_id, edit_data, queue, state, attempt, "
        f"cancel_requested, error, enqueued_at, queued_at, started_at, created_at, updated_at) "
        f"SELECT {ident(d, '00000004', 'n')}, {owner}, {ident(d, '00000003', 'n')}, '{{}}', "
        f"'render.cpu', {state}, 1, n % 10 = 1, "
        f"CASE WHEN n % 10 = 0 THEN 'RenderError: history' END, {created}, {created}, "
        f"{created}, {created}, {finished} FROM {seq(d, renders)}",
        f"INSERT INTO render_finishes (id, job_id, owner_id, asset_id, project_id, state, error, "
        f"finished_at, queued_seconds, wall_seconds, output_seconds, bytes, callback_url, "
        f"webhook_state, tries, status_code, delivered_at) "
        f"SELECT {ident(d, '00000005', 'n')}, {ident(d, '00000004', 'n')}, {owner}, "
        f"{ident(d, '00000003', 'n')}, {project}, {state}, "
        f"CASE WHEN n % 10 = 0 THEN 'RenderError: history' END, {finished}, "
        f"(n % 600) * 0.5, 5 + n % 3600, CASE WHEN {uploaded} THEN 1 + n % 120 END, "
        f"CASE WHEN {uploaded} THEN 1000000 + n END, "
        f"CASE WHEN n % 5 = 0 THEN 'http://hooks.example/h' END, "
        f"CASE WHEN n % 5 = 0 THEN 'delivered' END, CASE WHEN n % 5 = 0 THEN 1 ELSE 0 END, "
        f"CASE WHEN n % 5 = 0 THEN 200 END, CASE WHEN n % 5 = 0 THEN {finished} END "
        f"FROM {seq(d, renders)}",
    ]
    params = {"now": utcnow().isoformat(sep=" "), "probe": probe_user}
    with db.engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement), params)
    after_bulk_insert(db)


def after_bulk_insert(db: Database) -> None:
    """What a farm's database has after such a history: PostgreSQL's statistics (autovacuum),
    and the running totals that the finishes would have kept (the bulk insert skipped them)."""
    with db.session() as session:
        totals.rebuild(session)
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))


@dataclass
class Probe:
    """What the timed calls need on one database."""
    db: Database
    client: object
    headers: dict
    user_id: str
    big_project: str
    mid_project: str
    status_asset: str
    small_project: str
    source: str
    candidates: dict


def seed_probe(db: Database) -> tuple[str, str, dict]:
    """The probe user: its key, and the rows the calls read."""
    user, key = create_user(db, f"{uuid.uuid4().hex[:8]}@probe")
    now = utcnow()
    with db.session() as session:
        big = Project(owner_id=user.id, name="big", description="", created_at=now - timedelta(days=1))
        small = [Project(owner_id=user.id, name=f"small {i}", description="",
                         created_at=now - timedelta(hours=1, seconds=-i)) for i in range(SMALL_PROJECTS)]
        mid = Project(owner_id=user.id, name="mid", description="", created_at=now - timedelta(days=2))
        session.add_all([big, mid, *small])
        session.flush()
        session.add_all([Asset(owner_id=user.id, project_id=p.id, keyname=f"a{i}.mp4", asset_type="user",
                               status=MediaState.ANALYZED, uploaded=True, storage_key=f"k/{p.id}/{i}",
                               filename=f"a{i}.mp4") for p in small for i in range(3)])
        source = VideoFile(owner_id=user.id, name="src", filename="src.mp4", media_kind="video",
                           duration=10.0, fps=30, width=320, height=180, video_codec="h264",
                           audio_codec="aac", status=MediaState.ANALYZED, storage_key=f"{user.id}/v/src.mp4")
        session.add(source)
        session.flush()
        ids = {"user": user.id, "big": big.id, "mid": mid.id, "small": small[-1].id, "source": source.id}
    d = db.engine.dialect.name
    with db.engine.begin() as conn:
        for project, count, prefix in ((big, BIG_PROJECT_ASSETS, "b16b16b1"),
                                       (mid, MID_PROJECT_ASSETS, "b16b16b2")):
            conn.execute(text(
                f"INSERT INTO assets (id, owner_id, project_id, keyname, asset_type, uploaded, "
                f"progress, warnings, status, created_at, updated_at, revision, pieces_done, "
                f"storage_key, filename) "
                f"SELECT {ident(d, prefix, 'n')}, :user, :project, 'a' || n || '.mp4', 'user', true, "
                f"1.0, '[]', 'analyzed', {ago(d, 'n')}, :now, 1, 0, :folder || "
                f"{ident(d, prefix, 'n')} || '/a.mp4', 'a.mp4' FROM {seq(d, count)}"),
                {"user": user.id, "project": project.id, "now": now.isoformat(sep=" "),
                 "folder": f"{user.id}/{project.id}/"})
    with db.session() as session:
        status_asset = session.execute(text(
            "SELECT id FROM assets WHERE project_id = :p ORDER BY id LIMIT 1"), {"p": ids["small"]}).scalar_one()
        # The sweep's candidates: half named by their row, half under assets that do not exist.
        rows = session.execute(text("SELECT id, storage_key FROM assets WHERE project_id = :p "
                                    "ORDER BY id LIMIT :n"), {"p": ids["big"], "n": SWEEP_CANDIDATES // 2}).all()
    candidates = {(Asset, row_id, user.id): [key, key + ".old"] for row_id, key in rows}
    for _ in range(SWEEP_CANDIDATES // 2):
        gone = str(uuid.uuid4())
        candidates[(Asset, gone, user.id)] = [f"{user.id}/{ids['big']}/{gone}/x.mp4"]
    ids["status_asset"] = status_asset
    return key, ids, candidates


def make_probe(url: str, redis_url: str, folder: Path, renders: int) -> Probe:
    from api import create_app

    db = Database(url)
    key, ids, candidates = seed_probe(db)
    if renders:
        started = time.perf_counter()
        seed_history(db, renders, ids["user"])
        print(f"  {db.engine.dialect.name}: {renders:,} finished renders inserted in "
              f"{time.perf_counter() - started:.0f} s", flush=True)
    else:
        after_bulk_insert(db)
    folder.mkdir(parents=True, exist_ok=True)
    app = create_app(Settings(database_url=url, redis_url=redis_url,
                              storage_url=f"file://{folder / 'objects'}", secret_key="bench",
                              cache_dir=str(folder / "cache")))
    return Probe(db=db, client=app.test_client(), headers={"X-API-Key": key}, user_id=ids["user"],
                 big_project=ids["big"], mid_project=ids["mid"], status_asset=ids["status_asset"],
                 small_project=ids["small"], source=ids["source"], candidates=candidates)


def _get(probe: Probe, path: str, auth: bool = True) -> None:
    response = probe.client.get(path, headers=probe.headers if auth else {})
    if response.status_code != 200:
        raise SystemExit(f"GET {path}: {response.status_code} {response.get_data(as_text=True)[:300]}")


def reaper_round(probe: Probe) -> None:
    """The database side of one reaper round (worker/reaper.py `reap_once`)."""
    with probe.db.session() as session:
        job_reaping.reap(session, 300, 86400)
    with probe.db.session() as session:
        piece_reaping.reap(session, 300)
    with probe.db.session() as session:
        finishes.overdue_webhooks(session, 300)


def sweep_db_side(probe: Probe) -> None:
    from worker.orphans import _orphans

    with probe.db.session() as session:
        orphans = _orphans(session, probe.candidates)
    assert len(orphans) == SWEEP_CANDIDATES, len(orphans)


def submit_to_claim(probe: Probe) -> None:
    edit = {
        "video_edit_version": "1.0", "video_output_format": "mp4",
        "video_output_resolution": "320x180", "video_output_fps": 30,
        "video_output_filename": "out.mp4",
        "video_series_sequential": [{"video_id": probe.source, "type": "videofile",
                                     "video_start_time": 0, "video_end_time": 1}],
    }
    response = probe.client.post(f"/projects/{probe.small_project}/create-edit", json=edit,
                                 headers=probe.headers)
    if response.status_code != 200:
        raise SystemExit(f"create-edit: {response.status_code} {response.get_data(as_text=True)[:300]}")
    asset_id = response.json["asset_id"]
    with probe.db.session() as session:
        job_id = session.execute(text("SELECT id FROM render_jobs WHERE asset_id = :a"),
                                 {"a": asset_id}).scalar_one()
        claim = jobs.claim(session, job_id, "bench:1", 86400)
    assert claim is not None


def metrics_db_side(probe: Probe) -> None:
    """The database's part of a scrape (the rest reads Redis and writes the text)."""
    from api.services.farm_metrics import FarmCollector

    collector = FarmCollector(probe.db, None)
    with probe.db.session() as session:
        list(collector._jobs(session))
        list(collector._finishes(session))


BIG_CALL = f"GET /projects/{{id}} ({BIG_PROJECT_ASSETS:,} assets)"
MID_CALL = f"GET /projects/{{id}} ({MID_PROJECT_ASSETS:,} assets)"
CALLS = {
    "/metrics": lambda p: _get(p, "/metrics", auth=False),
    "/metrics, database side": metrics_db_side,
    "GET /farm": lambda p: _get(p, "/farm"),
    "GET /projects?limit=10": lambda p: _get(p, "/projects?limit=10"),
    BIG_CALL: lambda p: _get(p, f"/projects/{p.big_project}"),
    MID_CALL: lambda p: _get(p, f"/projects/{p.mid_project}"),
    f"GET /projects/{{id}}/assets ({BIG_PROJECT_ASSETS:,} assets)":
        lambda p: _get(p, f"/projects/{p.big_project}/assets"),
    "GET /assets/{id}/status": lambda p: _get(p, f"/assets/{p.status_asset}/status"),
    "reaper round (database)": reaper_round,
    f"orphan sweep, database side ({SWEEP_CANDIDATES:,} keys)": sweep_db_side,
    "submit to claim": submit_to_claim,
}


def timed(call, probe: Probe) -> tuple[float, float]:
    """Wall and CPU seconds of this process (on a loaded machine the CPU time says what the
    call costs; the wall time, what a client waits)."""
    started, cpu = time.perf_counter(), time.process_time()
    call(probe)
    return time.perf_counter() - started, time.process_time() - cpu


def measure(empty: Probe, full: Probe, repeat: int, only: str = "") -> dict[str, tuple]:
    """Each call's median (wall, CPU) seconds on the empty and the full database."""
    import api.routes.farm as farm_route

    farm_route._broker.ttl = float("inf")  # one broadcast (0.5 s) for the run: /farm's own cost
    results = {}
    for name, call in CALLS.items():
        if only not in name:
            continue
        samples = {"empty": [], "full": []}
        for probe in (empty, full):
            call(probe)  # warm-up
        for _ in range(repeat):  # alternate, so drift hits both alike
            samples["empty"].append(timed(call, empty))
            samples["full"].append(timed(call, full))
        results[name] = tuple(tuple(statistics.median(s[i] for s in samples[db]) for i in (0, 1))
                              for db in ("empty", "full"))
    return results


def report(kind: str, renders: int, results: dict, load: tuple) -> None:
    print(f"\n{kind}, {renders:,} finished renders against none (median ms; load "
          f"{load[0]:.1f} / {load[1]:.1f} at start / end)")
    print(f"| call | empty | {renders:,} renders | ratio | CPU empty | CPU {renders:,} |")
    print("|---|---:|---:|---:|---:|---:|")
    worst = 0.0
    for name, ((empty, empty_cpu), (full, full_cpu)) in results.items():
        ratio = full / empty if empty else float("inf")
        worst = max(worst, ratio)
        print(f"| {name} | {empty * 1000:.1f} | {full * 1000:.1f} | {ratio:.2f} | "
              f"{empty_cpu * 1000:.1f} | {full_cpu * 1000:.1f} |")
    if BIG_CALL in results and MID_CALL in results:
        per_asset = [results[BIG_CALL][db][i] / results[MID_CALL][db][i] for db in (0, 1) for i in (0, 1)]
        print(f"GET /projects/{{id}}, {BIG_PROJECT_ASSETS:,} assets against {MID_PROJECT_ASSETS:,} "
              f"(wall, CPU): {per_asset[0]:.2f}, {per_asset[1]:.2f} (empty); "
              f"{per_asset[2]:.2f}, {per_asset[3]:.2f} ({renders:,} renders)")
    metrics_ms = results["/metrics"][1][0] * 1000 if "/metrics" in results else 0.0
    print(f"goal (every ratio <= 2, /metrics < 50 ms): "
          f"{'met' if worst <= 2 and metrics_ms < 50 else 'NOT met'} "
          f"(worst ratio {worst:.2f}, /metrics {metrics_ms:.1f} ms)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--renders", type=int, default=1_000_000)
    parser.add_argument("--databases", default=",".join(DATABASES))
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--only", default="", help="time only the calls whose name holds this")
    args = parser.parse_args()
    kinds = [k for k in args.databases.split(",") if k]
    if set(kinds) - set(DATABASES):
        raise SystemExit(f"--databases: choose among {DATABASES}")
    with tempfile.TemporaryDirectory(prefix="canopy-history-") as tmp:
        folder = Path(tmp)
        redis = RedisServer(folder)
        redis.start()
        try:
            for kind in kinds:
                with ExitStack() as stack:
                    (folder / kind).mkdir()
                    (folder / kind / "full").mkdir()
                    print(f"{kind}: seeding", flush=True)
                    empty_url = stack.enter_context(database(kind, folder / kind))
                    full_url = stack.enter_context(database(kind, folder / kind / "full"))
                    empty = make_probe(empty_url, redis.url, folder / kind / "app-empty", 0)
                    full = make_probe(full_url, redis.url, folder / kind / "app-full", args.renders)
                    load = os.getloadavg()[0]
                    results = measure(empty, full, args.repeat, args.only)
                    report(kind, args.renders, results, (load, os.getloadavg()[0]))
                    for probe in (empty, full):
                        probe.db.dispose()
        finally:
            redis.stop()


if __name__ == "__main__":
    main()
