"""The event hub in-process: one Redis subscription, announced changes fanned out to every
listener of the asset, and what it does when an announcement never comes."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import select, update

from api import events as live
from shared.db import Database
from shared.events import Announcer
from shared.models import Asset, Project
from tests.fixtures.livesrv import wait_for


@pytest.fixture
def asset_id(db, make_user) -> str:
    user_id, _ = make_user()
    with db.session() as session:
        project = Project(owner_id=user_id, name="hub", description="")
        session.add(project)
        session.flush()
        asset = Asset(owner_id=user_id, project_id=project.id, keyname="r.mp4",
                      asset_type="generated_video", status="queued")
        session.add(asset)
        session.flush()
        return asset.id


def take_until(listener, progress: float, within: float):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        item = listener.take(0.1)
        if isinstance(item, live.Snapshot) and item.state["progress"] == progress:
            return item
    raise AssertionError(f"no state with progress {progress} within {within} s")


def test_an_announced_change_reaches_every_listener_of_the_asset(db, settings, asset_id,
                                                                 monkeypatch):
    monkeypatch.setattr(live, "REFRESH_SECONDS", 3600)  # what arrives was announced
    hub = live.Hub(settings.redis_url, db)
    first, second = hub.watch(asset_id), hub.watch(asset_id)
    try:
        # The hub reads each watched asset once it has subscribed: its state before any change.
        assert take_until(first, 0.0, 5).state["status"] == "queued"
        writer = Database(settings.database_url)  # as a worker's: its commits are announced
        Announcer(settings.redis_url).attach(writer)
        with writer.session() as session:  # an ORM change
            row = session.get(Asset, asset_id)
            row.status, row.progress = "rendering", 0.25
        got = [take_until(listener, 0.25, 30) for listener in (first, second)]
        assert got[0].revision == got[1].revision > 0 and got[0].state["status"] == "rendering"
        # A bulk UPDATE whose WHERE is a subquery, as the job's mirror onto its asset writes.
        same = select(Asset.id).where(Asset.id == asset_id).scalar_subquery()
        with writer.session() as session:
            session.execute(update(Asset).where(Asset.id == same).values(progress=0.5))
        assert take_until(first, 0.5, 30).revision > got[0].revision
        writer.dispose()
    finally:
        hub.close()
    assert first.take(0) == live.CLOSED


def test_a_change_never_announced_arrives_with_the_refresh(db, settings, asset_id, monkeypatch):
    monkeypatch.setattr(live, "REFRESH_SECONDS", 0.5)
    hub = live.Hub(settings.redis_url, db)
    listener = hub.watch(asset_id)
    try:
        take_until(listener, 0.0, 5)
        with db.session() as session:  # a writer with no Announcer: nothing is published
            session.execute(update(Asset).where(Asset.id == asset_id).values(progress=0.5))
        assert take_until(listener, 0.5, 3).state["progress"] == 0.5
        with db.session() as session:
            session.execute(update(Asset).where(Asset.id == asset_id).values(progress=0.75))
            session.delete(session.get(Asset, asset_id))
        assert listener.take(3) == live.GONE
    finally:
        hub.close()


def test_a_stream_in_a_thread_keeps_alive_however_often_the_hub_re_reads(db, settings, asset_id,
                                                                          monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    from api import streams

    monkeypatch.setattr(live, "REFRESH_SECONDS", 0.1)  # unchanged states, offered 5x per keep-alive
    hub = live.Hub(settings.redis_url, db, keepalive=0.5)
    listener = hub.watch(asset_id)
    first = live.read_snapshots(db, [asset_id])[asset_id]
    stream = streams.Stream(hub, listener, first, None)
    chunks = iter(stream)
    try:
        assert b"event: status" in next(chunks)
        with ThreadPoolExecutor(1) as pool:  # a hang fails here, not the whole run
            assert [pool.submit(next, chunks).result(timeout=10) for _ in range(2)] == [
                streams.KEEPALIVE] * 2
    finally:
        stream.close()
        hub.close()
    assert hub.streams == 0


def test_a_users_streams_are_counted_over_every_process(db, settings, asset_id, make_user):
    """Two hubs are two API processes sharing Redis: the user's cap holds over both, a slot
    given back in one is free in the other, and a full process says 503 with Retry-After."""
    first, second = (live.Hub(settings.redis_url, db, per_user=3) for _ in range(2))
    user, other = make_user()[0], make_user()[0]
    try:
        held = [first.watch(asset_id, user), first.watch(asset_id, user),
                second.watch(asset_id, user)]
        for hub in (first, second):
            with pytest.raises(live.TooManyOfYours) as refused:
                hub.watch(asset_id, user)
            assert refused.value.status == 429 and int(refused.value.headers["Retry-After"]) >= 1
        assert second.watch(asset_id, other) is not None  # another user is not refused
        first.unwatch(held[0])
        again = wait_for_slot(second, asset_id, user)
        second.max_streams = second.streams
        with pytest.raises(live.TooManyStreams) as full:
            second.watch(asset_id, make_user()[0])
        assert full.value.status == 503 and "Retry-After" in full.value.headers
        assert again.user_id == user
    finally:
        first.close()
        second.close()


def wait_for_slot(hub, asset_id, user):
    """The user's slot comes back once the hub that freed it has told Redis (its own thread)."""
    def watched():
        try:
            return hub.watch(asset_id, user)
        except live.TooManyOfYours:
            return None

    return wait_for(watched, 5, "the user's slot given back")
