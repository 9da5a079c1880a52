"""The render cache's rows (shared/render_cache.py) on both databases: an entry is claimed
once, found only by its owner once stored, evicted least recently used past the budget, and
its object counted as referenced by the orphan sweep; the reaper's trim deletes the objects of
the entries it evicts."""
from __future__ import annotations

import time
from dataclasses import replace
from datetime import timedelta

import pytest

from shared import keys, render_cache
from shared.models import VideoFile, utcnow
from shared.render_cache import Entry
from shared.storage import StorageError, open_storage
from worker.orphans import sweep_orphans


def entry(owner: str, name: str, size: int = 100) -> Entry:
    key = name.ljust(64, "0")
    return Entry(key, keys.cache_object_key(owner, key), size, 30, "f" * 64)


def stored(db, owner: str, item: Entry, sources=("a" * 64,)) -> None:
    with db.session() as session:
        assert render_cache.claim(session, owner, item, sources) == (True, None)
        assert render_cache.mark_stored(session, owner, item)


def test_an_entry_is_claimed_once_and_found_by_its_owner_only(db, make_user):
    owner, _ = make_user()
    other, _ = make_user()
    item = entry(owner, "a")
    with db.session() as session:
        assert render_cache.claim(session, owner, item, ["a" * 64]) == (True, None)
        assert render_cache.claim(session, owner, entry(owner, "a"), []) == (False, None)
        assert render_cache.lookup(session, owner, [item.key]) == {}  # not stored yet
        assert render_cache.mark_stored(session, owner, item)
        assert render_cache.lookup(session, owner, [item.key]) == {item.key: item}
        assert render_cache.lookup(session, other, [item.key]) == {}
        assert render_cache.size(session, other) == (0, 0)
        assert render_cache.size(session, owner) == (1, 100)
        # cache: false refreshes: the old object is handed back to delete
        fresh = entry(owner, "a")
        assert render_cache.claim(session, owner, fresh, [], replace=True) == (True,
                                                                               item.object_key)


def test_trim_evicts_the_least_recently_used_past_the_budget(db, make_user):
    owner, _ = make_user()
    small, _ = make_user()
    items = [entry(owner, name) for name in "abc"]
    for item in items:
        stored(db, owner, item)
    stored(db, small, entry(small, "a"))
    with db.session() as session:
        render_cache.lookup(session, owner, [items[0].key])  # a: used last
        session.commit()
        gone = render_cache.trim(session, budget=200, owners=[owner, small])
        assert set(gone) == {items[1].object_key}  # b is older than c
        left = render_cache.lookup(session, owner, [i.key for i in items])
        assert set(left) == {items[0].key, items[2].key}
        assert render_cache.size(session, small) == (1, 100)  # under its own budget
        assert len(render_cache.trim(session, 0, owners=[owner, small])) == 3  # 0: all go


def test_a_claim_whose_writer_died_is_removed(db, make_user):
    owner, _ = make_user()
    item = entry(owner, "d")
    with db.session() as session:
        render_cache.claim(session, owner, item, [])
        assert render_cache.trim(session, 10**9, owners=[owner]) == []
        later = utcnow() + timedelta(seconds=render_cache.CLAIM_SECONDS + 1)
        assert render_cache.trim(session, 10**9, now=later, owners=[owner]) == [item.object_key]


def test_the_orphan_sweep_keeps_what_an_entry_names(db, make_user, settings):
    owner, _ = make_user()
    item = entry(owner, "e")
    stored(db, owner, item)
    store = open_storage(settings)
    try:
        store.put_bytes(item.object_key, b"x" * 100)
        stray = keys.cache_object_key(owner, item.key)  # no row names it
        store.put_bytes(stray, b"y")
        with db.session() as session:
            gone = sweep_orphans(session, store, grace_seconds=0, now=time.time() + 5,
                                 prefix=owner)
        assert gone == [stray]
        assert store.exists(item.object_key)
    finally:
        store.close()


def test_the_reapers_trim_deletes_what_it_evicts(db, make_user, settings, monkeypatch):
    """worker/reaper.py's `trim_cache` (each round, with CANOPY_RENDER_CACHE_BYTES): the
    least recently used entries past the budget go, and their objects with them."""
    from worker import context, reaper

    owner, _ = make_user()
    store = open_storage(settings)
    monkeypatch.setattr(context, "db", lambda: db)
    monkeypatch.setattr(context, "storage", lambda: store)
    trim = render_cache.trim  # this owner's entries only: the session's others stay
    monkeypatch.setattr(render_cache, "trim",
                        lambda session, budget: trim(session, budget, owners=[owner]))
    items = [entry(owner, name) for name in "fgh"]
    try:
        for item in items:
            stored(db, owner, item)
            store.put_bytes(item.object_key, b"x" * 100)
        with db.session() as session:
            render_cache.lookup(session, owner, [items[0].key])  # f: used last
            session.commit()
        assert reaper.trim_cache(200) == [items[1].object_key]  # g is older than h
        assert [store.exists(i.object_key) for i in items] == [True, False, True]
        assert sorted(reaper.trim_cache(0)) == sorted([items[0].object_key, items[2].object_key])
        assert not any(store.exists(i.object_key) for i in items)
    finally:
        store.close()


SLOW_IDLE = 0.5  # the server's idle-transaction limit in the next test


def source_with_entry(db, store, owner: str, name: str) -> tuple[str, Entry]:
    """A library file of the owner's and a render-cache entry made from its content (the
    last source of it), with the entry's object stored: (the file's id, the entry)."""
    with db.session() as session:
        source = VideoFile(owner_id=owner, name="v", filename="v.mp4", sha256="a" * 64)
        session.add(source)
        session.commit()
        source_id = source.id
    item = entry(owner, name)
    stored(db, owner, item)
    store.put_bytes(item.object_key, b"piece")
    return source_id, item


def deleted(db, owner: str, source_id: str) -> bool:
    """The file's row and the entries made from its content are gone."""
    with db.session() as session:
        return (session.get(VideoFile, source_id) is None
                and render_cache.size(session, owner) == (0, 0))


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_deleting_a_source_holds_no_transaction_while_a_slow_store_deletes(
        settings, db, make_user, monkeypatch):
    """PostgreSQL ends a session left idle in a transaction past its limit: a source's delete
    whose store is slow (each object delete outlasts the limit three times) must not wait on
    the store inside its transaction, or it loses its session and answers 500."""
    from api import create_app

    owner, key = make_user()
    app = create_app(replace(settings, db_idle_transaction_seconds=SLOW_IDLE))
    store = app.extensions["canopy"].storage
    source_id, item = source_with_entry(db, store, owner, "slow")
    real_delete = store.delete

    def slow_delete(object_key):
        time.sleep(3 * SLOW_IDLE)  # a slow store: the fault under test, not a wait
        real_delete(object_key)

    monkeypatch.setattr(store, "delete", slow_delete)
    response = app.test_client().delete(f"/video-file/{source_id}",
                                        headers={"Authorization": f"Bearer {key}"})
    assert response.status_code in (200, 204), response.text
    assert deleted(db, owner, source_id)
    assert not store.exists(item.object_key)


def test_a_delete_whose_store_fails_after_the_commit_succeeds_and_leaves_the_sweep_its_objects(
        app, client, settings, db, make_user, monkeypatch):
    """Once the delete commits it has happened: a store that fails then (down, say) is no
    reason to tell the caller otherwise. What it could not delete names no row, and the
    orphan sweep removes it."""
    owner, key = make_user()
    store = app.extensions["canopy"].storage
    source_id, item = source_with_entry(db, store, owner, "down")

    def store_down(*_args):
        raise StorageError("the store is down")

    monkeypatch.setattr(store, "delete", store_down)
    monkeypatch.setattr(store, "delete_prefix", store_down)
    response = client.delete(f"/video-file/{source_id}", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code in (200, 204), response.text
    assert deleted(db, owner, source_id)
    assert store.exists(item.object_key)  # left behind
    monkeypatch.undo()
    with db.session() as session:
        swept = sweep_orphans(session, store, grace_seconds=0, now=time.time() + 60,
                              prefix=owner)
    assert item.object_key in swept and not store.exists(item.object_key)
