"""Workers on machines of their own: each in a network namespace, reaching PostgreSQL, Redis
and the S3 store over its veth link. One machine is cut off mid-render; the render ends."""
from __future__ import annotations

import secrets
from dataclasses import replace

import pytest
import requests

from tests.fixtures.faults import PIECES, chunked, fault_settings, piece_rows, prepare
from tests.fixtures.livesrv import Farm, MotoS3, RedisServer, Worker
from tests.fixtures.netns import Host, usable
from tests.fixtures.measure import read_video


@pytest.fixture
def hosts():
    """Two hosts of their own, deleted (with their links and forwarders) whatever happens."""
    reason = usable()
    if reason:
        pytest.skip(reason)
    subnet = (200 + secrets.randbelow(50), secrets.randbelow(250))
    made = [Host(i, subnet) for i in (1, 2)]
    try:
        yield [host.create() for host in made]
    finally:
        for host in made:
            host.delete()


def test_a_host_cut_off_mid_render_loses_only_its_pieces(hosts, faults_database_url, tmp_path,
                                                         fault_source):
    redis, s3 = RedisServer(tmp_path), MotoS3(tmp_path)
    redis.start()
    s3.start()
    settings = fault_settings(faults_database_url, redis.url, tmp_path, s3.url)
    farm = Farm(settings, tmp_path, redis)
    try:
        farm.server.start()
        for i, host in enumerate(hosts, 1):
            seen_from_host = replace(
                settings, database_url=host.reach(settings.database_url),
                redis_url=host.reach(settings.redis_url), storage_url=host.reach(settings.storage_url),
                cache_dir=str(tmp_path / f"host{i}"))
            worker = Worker(seen_from_host, tmp_path, name=f"worker-host{i}", wrap=host.wrap)
            worker.start()
            farm.workers.append(worker)
        setup = prepare(farm, fault_source)  # uploaded here, probed on a host over its link
        setup.hold()  # each worker's piece after its first frame: host 1 is cut mid-render
        asset_id = chunked(setup)
        setup.held(asset_id, count=2)

        def on_first_host():
            return [p for p in piece_rows(setup, asset_id) if p.state == "rendering"
                    and hosts[0].owns(int(p.worker_id.rsplit(":", 1)[1]))]

        lost = on_first_host()
        assert lost, "host 1 holds no piece"
        hosts[0].cut()
        setup.release()

        done = setup.finished(asset_id, timeout=180)
        assert done["status"] == "uploaded", done
        rows = {p.index: p for p in piece_rows(setup, asset_id)}
        assert len(rows) == PIECES + 1 and all(p.state == "uploaded" for p in rows.values())
        for piece in lost:  # rendered again, on the host still connected
            again = rows[piece.index]
            assert again.attempt == piece.attempt + 1
            assert hosts[1].owns(int(again.worker_id.rsplit(":", 1)[1]))
        out = tmp_path / "out.mp4"
        out.write_bytes(requests.get(done["download_url"], timeout=30).content)
        assert read_video(out).frames == 600
    finally:
        for worker in farm.workers:
            if worker.proc and worker.proc.poll() is None:
                worker.kill()  # the cut-off one cannot shut down cleanly
        farm.stop()
        s3.stop()
