"""Polled asset reads are reused only while the row is unchanged: never an older answer."""
from __future__ import annotations

import requests
from sqlalchemy import update

from api.readcache import VersionedCache
from shared.models import Asset, Project, VideoFile
from shared.states import JobState, MediaState


def linked_asset(db, user_id: str, status: str) -> tuple[str, str, str]:
    """A project asset linked to a library file in `status`: (asset, file, project) ids."""
    with db.session() as session:
        project = Project(owner_id=user_id, name="p", description="d")
        video = VideoFile(owner_id=user_id, name="v", filename="v.mp4", status=status,
                          storage_key=f"{user_id}/v.mp4")
        session.add_all([project, video])
        session.flush()
        asset = Asset(owner_id=user_id, project_id=project.id, keyname=video.id,
                      asset_type="video-reference", video_file_id=video.id, status=status)
        session.add(asset)
        session.flush()
        return asset.id, video.id, project.id


def test_a_changed_row_is_read_again(client, db, make_user):
    user_id, key = make_user()
    headers = {"X-API-Key": key}
    with db.session() as session:
        project = Project(owner_id=user_id, name="p", description="d")
        session.add(project)
        session.flush()
        asset = Asset(owner_id=user_id, project_id=project.id, keyname="out.mp4",
                      asset_type="generated_video", status=JobState.RENDERING, progress=0.1)
        session.add(asset)
        session.flush()
        asset_id = asset.id
    assert client.get(f"/assets/{asset_id}", headers=headers).json["progress"] == 0.1
    for progress in (0.2, 0.3):  # as a worker's heartbeat writes it, in another process
        with db.session() as session:
            session.execute(update(Asset).where(Asset.id == asset_id).values(progress=progress))
        assert client.get(f"/assets/{asset_id}", headers=headers).json["progress"] == progress
        assert client.get(f"/assets/{asset_id}/status", headers=headers).json["progress"] == progress
    with db.session() as session:
        session.execute(update(Asset).where(Asset.id == asset_id).values(status=JobState.UPLOADED))
    assert client.get(f"/assets/{asset_id}/status", headers=headers).json["status"] == JobState.UPLOADED


def test_versioned_cache_builds_once_per_version():
    cache, builds = VersionedCache(), []

    def build(version):
        def at_version():
            builds.append(1)
            return {"n": len(builds)}, version
        return at_version

    assert cache.get_or_build("k", 1, build(1)) == {"n": 1}
    assert cache.get_or_build("k", 1, build(1)) == {"n": 1}
    assert cache.get_or_build("k", 2, build(2)) == {"n": 2}
    assert len(builds) == 2


def test_an_answer_read_from_an_older_snapshot_is_not_reused():
    """The database said version 2 but the rows were read at version 1 (a transaction begun
    earlier in the request, under repeatable read): the next poll builds again."""
    cache = VersionedCache()
    assert cache.get_or_build("k", 2, lambda: ("read at 1", 1)) == "read at 1"
    assert cache.get_or_build("k", 2, lambda: ("read at 2", 2)) == "read at 2"
    assert cache.get_or_build("k", 2, lambda: ("read again", 2)) == "read at 2"


def test_polls_of_every_server_process_follow_a_change_at_once(live_server, db, make_user):
    """A linked file analysed, re-analysed, analysed again (as workers write it): each poll
    right after a write answers the new status, whichever gunicorn process serves it."""
    user_id, key = make_user()
    asset_id, video_id, _ = linked_asset(db, user_id, MediaState.PROCESSING)

    def polls() -> list[tuple]:
        # A new connection each: gunicorn's two processes take turns accepting them.
        answers = [requests.get(f"{live_server.url}/assets/{asset_id}", timeout=10,
                                headers={"X-API-Key": key}).json() for _ in range(8)]
        return [(a["status"], a["uploaded"], bool(a["url"])) for a in answers]

    assert polls() == [(MediaState.PROCESSING, False, False)] * 8  # now cached in both processes
    for status in (MediaState.ANALYZED, MediaState.PROCESSING, MediaState.ANALYZED):
        with db.session() as session:
            session.execute(update(VideoFile).where(VideoFile.id == video_id).values(status=status))
        analyzed = status == MediaState.ANALYZED
        assert polls() == [(status, analyzed, analyzed)] * 8


def test_a_loaded_asset_has_the_version_the_poll_reads(app, db, make_user):
    """The cache files answers under `version_of` the rows read and finds them by
    `asset_version`: if the two ever differed, every poll would build its answer anew."""
    from api.auth import Caller
    from api.context import close_session
    from api.services import assets as service

    user_id, _ = make_user()
    linked, _, project_id = linked_asset(db, user_id, MediaState.ANALYZED)
    with db.session() as session:
        alone = Asset(owner_id=user_id, project_id=project_id, keyname="out.mp4",
                      asset_type="generated_video", status=JobState.QUEUED)
        session.add(alone)
        session.flush()
        ids = [linked, alone.id]
    caller = Caller(id=user_id, email="", name="", avatar="", is_verified=True, is_active=True)
    with app.app_context():
        for asset_id in ids:
            loaded = service.version_of(service.owned_asset(caller, asset_id))
            assert loaded == service.asset_version(caller, asset_id)
            close_session()
