"""The orphan sweep (worker/orphans.py) on both stores: local disk with SQLite, S3 with
PostgreSQL. Objects their row names stay; objects of a deleted row, or that their row no
longer names, go once older than the grace period; keys outside the layout are left alone."""
from __future__ import annotations

import time
import uuid

import pytest

from shared import keys
from shared.models import Asset, Project, RenderJob, RenderPiece, VideoFile
from shared.storage import open_storage
from worker.orphans import sweep_orphans


@pytest.fixture
def storage(settings):
    store = open_storage(settings)
    yield store
    store.close()


def test_sweep_deletes_what_no_row_names(db, make_user, storage):
    user_id, _ = make_user()
    with db.session() as session:
        video = VideoFile(owner_id=user_id, name="v", filename="v.mp4")
        project = Project(owner_id=user_id, name="p", description="d")
        session.add_all([video, project])
        session.flush()
        asset = Asset(owner_id=user_id, project_id=project.id, keyname="a.png", asset_type="user")
        render = Asset(owner_id=user_id, project_id=project.id, keyname="o.mp4",
                       asset_type="generated_video")
        session.add_all([asset, render])
        session.flush()
        job = RenderJob(owner_id=user_id, asset_id=render.id, edit_data={})
        session.add(job)
        session.flush()
        piece = RenderPiece(job_id=job.id, index=0, frame_start=0, frame_end=30,
                            output_key=keys.piece_key(render, 0, 1))  # rendering: until the join
        session.add(piece)
        video.storage_key = keys.media_key(video, "v.mp4")
        video.thumbnail_key = keys.thumbnail_key(video.storage_key)
        asset.storage_key = keys.upload_key(asset, "a.png")
        named = [video.storage_key, video.thumbnail_key, asset.storage_key, piece.output_key]
        lost_piece = keys.piece_key(render, 1, 2)  # an attempt whose row moved on
        replaced = keys.upload_key(asset, "old.png")  # an earlier upload's, not deleted
        gone_row = f"{user_id}/video-files/{uuid.uuid4()}/late.mp4"  # a direct PUT too late
        gone_project = f"{user_id}/{uuid.uuid4()}/{uuid.uuid4()}/attempt-1/out.mp4"
    outside = f"{user_id}/loose-{uuid.uuid4().hex[:6]}.bin"  # not in any row's folder
    for key in [*named, replaced, lost_piece, gone_row, gone_project, outside]:
        storage.put_bytes(key, b"bytes")

    with db.session() as session:  # all of them younger than a day: nothing goes
        assert sweep_orphans(session, storage, 86400, prefix=user_id) == []
        swept = sweep_orphans(session, storage, 0, now=time.time() + 5, prefix=user_id)
    assert sorted(swept) == sorted([replaced, lost_piece, gone_row, gone_project])
    assert all(storage.exists(key) for key in [*named, outside])
    assert not any(storage.exists(key) for key in swept)
