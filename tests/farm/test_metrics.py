"""GET /metrics against the live farm: parsed with prometheus_client's own parser, figures
that move as renders run; who may read them; the workers' JSON render-step lines."""
from __future__ import annotations

import json
import re
import uuid
from dataclasses import replace

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from shared.config import REPO_ROOT
from shared.models import RenderJob
from tests.fixtures.edits import tiny_edit
from tests.fixtures.farm import moved, scrape, step_lines, wait_finished
from tests.fixtures.livesrv import wait_for

STEPS = ["claimed", "sources_fetched", "rendered", "uploaded", "finished"]


def test_figures_move_as_renders_run(farm, api, tiny_source, db, worker):
    from worker.render import gpu_available

    project = api("POST", "/projects", json={"name": "m", "description": "d"}).json()["id"]
    start = scrape(farm.url)
    assert start[("canopy_workers_live", ())] >= 1 and start[("canopy_redis_up", ())] == 1
    assert start[("canopy_workers", (("queue", "hooks"),))] >= 1
    assert start[("canopy_workers", (("queue", "render.cpu"),))] >= 1

    started = api("POST", f"/projects/{project}/create-edit", json=tiny_edit(tiny_source)).json()
    done = wait_finished(api, started["asset_id"])
    assert done["status"] == "uploaded"
    after = scrape(farm.url)
    assert moved(start, after, "canopy_renders_total", outcome="uploaded") == 1
    assert moved(start, after, "canopy_render_output_bytes_total", outcome="uploaded") == done["size"]
    for histogram in ("canopy_render_wall_seconds", "canopy_render_queued_seconds",
                      "canopy_render_seconds_per_output_second"):
        assert moved(start, after, f"{histogram}_count", outcome="uploaded") == 1
        assert moved(start, after, f"{histogram}_bucket", outcome="uploaded", le="+Inf") == 1
    assert moved(start, after, "canopy_render_wall_seconds_sum", outcome="uploaded") > 0

    polls = 12  # spread over both gunicorn processes; the scrape sums them
    for _ in range(polls):
        assert api("GET", f"/assets/{started['asset_id']}/status").status_code == 200
    assert api("GET", f"/assets/{started['asset_id']}/nothing-here").status_code == 404
    polled = scrape(farm.url)
    assert moved(after, polled, "canopy_http_requests_total", method="GET",
                 route="/assets/<uuid:asset_id>/status", status="200") == polls
    assert moved(after, polled, "canopy_http_requests_total", method="GET",
                 route="<unmatched>", status="404") == 1
    assert moved(after, polled, "canopy_http_request_duration_seconds_count",
                 route="/assets/<uuid:asset_id>/status") == polls

    if not gpu_available():  # no worker here consumes render.gpu: its job waits, queued
        edit = tiny_edit(tiny_source, render_options={"encoder": "gpu"})
        waiting = api("POST", f"/projects/{project}/create-edit", json=edit).json()
        queued = scrape(farm.url)
        assert moved(polled, queued, "canopy_render_jobs", state="queued") == 1
        assert moved(polled, queued, "canopy_queue_length", queue="render.gpu") == 1
        api("POST", f"/assets/{waiting['asset_id']}/cancel")
        canceled = scrape(farm.url)
        assert moved(queued, canceled, "canopy_render_jobs", state="queued") == -1
        assert moved(queued, canceled, "canopy_renders_total", outcome="canceled") == 1

    with db.session() as session:
        job_id = session.execute(select(RenderJob.id)
                                 .where(RenderJob.asset_id == started["asset_id"])).scalar_one()
    lines = wait_for(lambda: step_lines(worker.log_path, job_id, len(STEPS)), 10, "the step lines")
    assert [line["event"] for line in lines] == [f"render.{step}" for step in STEPS]
    assert all(line["attempt"] == 1 and line["step_s"] >= 0 for line in lines)
    assert lines[-1]["outcome"] == "uploaded" and lines[3]["bytes"] == done["size"]
    assert lines[-1]["total_s"] >= lines[2]["total_s"] and lines[2]["output_s"] == 1.0


def families(response) -> set[str]:
    return {family.name for family in text_string_to_metric_families(response.get_data(as_text=True))}


def test_metrics_want_the_token_or_a_loopback_client(app, settings):
    from api import create_app

    guarded = create_app(replace(settings, metrics_token="s3cret")).test_client()
    remote = {"REMOTE_ADDR": "203.0.113.9"}
    assert guarded.get("/metrics", environ_base=remote).status_code == 401
    assert guarded.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 401
    wrong = guarded.get("/metrics", headers={"Authorization": "Bearer s3cre"}, environ_base=remote)
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"] == "Bearer"
    right = guarded.get("/metrics", headers={"Authorization": "Bearer s3cret"}, environ_base=remote)
    assert right.status_code == 200
    assert {"canopy_render_jobs", "canopy_queue_length", "canopy_renders"} <= families(right)

    open_ = app.test_client()  # no token: loopback clients only, and not through a proxy
    assert open_.get("/metrics", environ_base=remote).status_code == 403
    assert open_.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    proxied = open_.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"},
                        environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert proxied.status_code == 403


@pytest.mark.parametrize("header", ["X-Real-IP", "Via", "True-Client-IP", "Forwarded",
                                    "X-Forwarded-Host", "CF-Connecting-IP", "X-Client-IP"])
def test_a_proxied_loopback_request_is_refused_without_the_token(app, header):
    """A local proxy that adds only one of these headers must not expose the metrics."""
    scrape_ = app.test_client().get("/metrics", headers={header: "203.0.113.9"},
                                    environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert scrape_.status_code == 403, header


def test_made_up_methods_and_statuses_add_no_series(app):
    client = app.test_client()
    local = {"REMOTE_ADDR": "127.0.0.1"}

    def series() -> dict[tuple, float]:
        text = client.get("/metrics", environ_base=local).get_data(as_text=True)
        return {tuple(sorted(s.labels.items())): s.value
                for family in text_string_to_metric_families(text)
                for s in family.samples if s.name == "canopy_http_requests_total"}

    before = series()
    for method in ("ZZZA", "ZZZB", "BREW", "PROPFIND"):
        assert client.open("/health", method=method).status_code == 405
        assert client.open(f"/projects/{method}", method=method).status_code in (401, 404, 405)
    after = series()
    methods = {dict(labels)["method"] for labels in after}
    assert methods <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"}
    def others(counts):
        return sum(value for labels, value in counts.items() if ("method", "other") in labels)

    assert others(after) - others(before) == 8 and len(after) - len(before) <= 2
    assert all("ZZZ" not in value for labels in after for _, value in labels)


def test_a_scrape_opens_no_connection(app, monkeypatch):
    """Queue depths come through the app's Redis pool, not a broker connection per scrape."""
    from redis.connection import Connection

    opened = []  # TCP connections made to Redis (kombu's broker connections are redis-py's)
    connect = Connection._connect
    monkeypatch.setattr(Connection, "_connect", lambda self: opened.append(self) or connect(self))
    client = app.test_client()
    local = {"REMOTE_ADDR": "127.0.0.1"}
    first = client.get("/metrics", environ_base=local)  # the pool's first connection, if none yet
    assert first.status_code == 200 and "canopy_redis_up 1.0" in first.get_data(as_text=True)
    opened.clear()
    for _ in range(3):
        assert client.get("/metrics", environ_base=local).status_code == 200
    assert opened == []


def test_queue_depths_count_every_priority_list(settings):
    """The depths read from Redis's lists are what kombu's own count says, priorities too."""
    import redis

    from shared.queue import make_celery, queue_depths

    celery = make_celery(settings)
    client = redis.Redis.from_url(settings.redis_url)
    queues = [f"canopy.test.{uuid.uuid4()}", f"canopy.test.{uuid.uuid4()}"]
    for priority in (None, 0, 3, 5, 9, 9):
        celery.send_task("canopy.test.never_run", args=[], queue=queues[0], priority=priority)
    depths = queue_depths(client, queues)
    with celery.connection_for_read() as conn:
        counted = {name: conn.default_channel.queue_declare(queue=name, passive=False).message_count
                   for name in queues}
    client.delete(*client.keys(f"*{queues[0]}*"))
    assert depths == counted == {queues[0]: 6, queues[1]: 0}


def test_labels_keep_to_their_sets():
    from werkzeug.routing import Rule

    from api.metrics import labels_of

    assert labels_of("ZZZA", None, 405) == ("other", "<unmatched>", "405")
    assert labels_of("GET", Rule("/assets/<uuid:asset_id>"), 200) == (
        "GET", "/assets/<uuid:asset_id>", "200")
    assert labels_of("GET", None, 299) == ("GET", "<unmatched>", "other")


def test_the_dashboard_charts_metrics_the_api_serves(app):
    served = families(app.test_client().get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}))
    dashboard = json.loads((REPO_ROOT / "deploy" / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    charted = {re.sub(r"_(bucket|total)$", "", name)
               for expr in exprs for name in re.findall(r"\bcanopy_[a-z_]+", expr)}
    assert charted and charted <= served, charted - served


def test_gunicorn_logs_json_lines_too(farm):
    lines = [json.loads(line) for line in farm.log_path.read_text().splitlines()
             if "Booting worker" in line]
    assert len(lines) >= 2 and {line["logger"] for line in lines} == {"gunicorn.error"}, lines
