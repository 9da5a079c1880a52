"""Polled asset reads are reused only while the row is unchanged: never an older answer."""
from __future__ import annotations

from sqlalchemy import update

from api.readcache import VersionedCache
from shared.models import Asset, Project


def test_a_changed_row_is_read_again(client, db, make_user):
    user_id, key = make_user()
    headers = {"X-API-Key": key}
    with db.session() as session:
        project = Project(owner_id=user_id, name="p", description="d")
        session.add(project)
        session.flush()
        asset = Asset(owner_id=user_id, project_id=project.id, keyname="out.mp4",
                      asset_type="generated_video", status="rendering", progress=0.1)
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
        session.execute(update(Asset).where(Asset.id == asset_id).values(status="uploaded"))
    assert client.get(f"/assets/{asset_id}/status", headers=headers).json["status"] == "uploaded"


def test_versioned_cache_builds_once_per_version():
    cache, builds = VersionedCache(), []

    def build():
        builds.append(1)
        return {"n": len(builds)}

    assert cache.get_or_build("k", 1, build) == {"n": 1}
    assert cache.get_or_build("k", 1, build) == {"n": 1}
    assert cache.get_or_build("k", 2, build) == {"n": 2}
    assert len(builds) == 2
