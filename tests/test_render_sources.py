"""The render task on a real database and store: a source analysed again since the job read
it is fetched anew, one rewritten without analysis is refused; a failed attempt tidies up."""
from __future__ import annotations

import hashlib

import pytest

from shared import jobs, keys, leases
from shared.models import Asset, Project, RenderJob, VideoFile
from shared.states import Beat, JobState, MediaState
from tests.fixtures.jobs import queued_job
from tests.fixtures.edits import clip, make_edit
from tests.fixtures.livesrv import settings_env
from worker import context
from worker.cache import SourceCache, SourceChanged
from worker.render import RenderResult
from worker.attempt import fetch_sources, load
from worker.tasks.render import RenderAttempt

FIRST, SECOND = b"first upload" * 1000, b"second upload" * 1000


def never() -> bool:
    return False


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def worker_context(settings, monkeypatch):
    """worker.context reading the test settings, as a worker process started with them."""
    for name, value in settings_env(settings).items():
        monkeypatch.setenv(name, value)
    context.settings.cache_clear()
    context.reset()
    yield
    context.settings.cache_clear()
    context.reset()


def queued_job_of(db, user_id: str, key: str, sha: str) -> tuple[leases.Claim, str]:
    """A render job of one clip of an analysed library file stored at `key` with hash `sha`."""
    with db.session() as session:
        video = VideoFile(owner_id=user_id, name="v", filename="v.mp4", status=MediaState.ANALYZED,
                          storage_key=key, sha256=sha, media_kind="video", duration=5.0)
        session.add(video)
        session.flush()
        video_id = video.id
    body = make_edit([clip(video_id, 0, 1)], resolution="320x180")
    return leases.Claim(queued_job(db, user_id, body), 1), video_id


def test_a_source_analysed_again_since_the_job_read_it_is_fetched_anew(
        worker_context, db, make_user, tmp_path):
    user_id, _ = make_user()
    key = f"{user_id}/video-files/direct/v.mp4"
    context.storage().put_bytes(key, SECOND)  # re-put through the direct link, then analysed
    claim, video_id = queued_job_of(db, user_id, key, digest(SECOND))
    stale = {video_id: (key, digest(FIRST))}  # what the job read before that

    local = fetch_sources(SourceCache(context.storage(), str(tmp_path)), stale, never,
                          lambda: load(claim).sources)
    with open(local[video_id], "rb") as fh:
        assert fh.read() == SECOND


def test_a_source_rewritten_without_analysis_is_refused(worker_context, db, make_user, tmp_path):
    user_id, _ = make_user()
    key = f"{user_id}/video-files/direct/v.mp4"
    context.storage().put_bytes(key, SECOND)  # re-put through the direct link, not analysed
    claim, video_id = queued_job_of(db, user_id, key, digest(FIRST))

    with pytest.raises(SourceChanged, match=f"source {video_id}: its stored file changed"):
        fetch_sources(SourceCache(context.storage(), str(tmp_path)),
                      {video_id: (key, digest(FIRST))}, never, lambda: load(claim).sources)


def test_a_cancel_seen_while_fetching_stops_before_the_next_source(
        worker_context, db, make_user, tmp_path):
    user_id, _ = make_user()
    key = f"{user_id}/video-files/direct/v.mp4"
    context.storage().put_bytes(key, FIRST)
    claim, video_id = queued_job_of(db, user_id, key, digest(FIRST))
    cache = SourceCache(context.storage(), str(tmp_path))

    assert fetch_sources(cache, {video_id: (key, digest(FIRST))}, lambda: True,
                         lambda: load(claim).sources) is None
    assert list((tmp_path / "sources").iterdir()) == []  # nothing was downloaded


def test_a_failed_attempt_removes_what_it_stored(worker_context, db, make_user):
    """A crash between the upload and finalize: the attempt's object must not stay behind."""
    user_id, _ = make_user()
    claim, _ = queued_job_of(db, user_id, f"{user_id}/video-files/x/v.mp4", digest(FIRST))
    with db.session() as session:
        claim = jobs.claim(session, claim.job_id, "w", 30)
        asset = session.get(Asset, session.get(RenderJob, claim.job_id).asset_id)
        stored = keys.attempt_folder(asset, 1) + "out.mp4"
    context.storage().put_bytes(stored, b"a render never finalized")

    assert RenderAttempt(claim).end("RuntimeError: boom", retry=False).startswith(JobState.FAILED)
    assert not context.storage().exists(stored)


def test_an_attempt_whose_job_was_deleted_says_so(worker_context, db, make_user):
    """The project was deleted mid-render: the attempt stops saying the job was deleted, not
    that it lost its lease to another attempt."""
    user_id, _ = make_user()
    claim, _ = queued_job_of(db, user_id, f"{user_id}/video-files/x/v.mp4", digest(FIRST))
    with db.session() as session:
        claim = jobs.claim(session, claim.job_id, "w", 30)
        session.delete(session.get(Project, session.get(Asset, session.get(
            RenderJob, claim.job_id).asset_id).project_id))
        session.commit()
    attempt = RenderAttempt(claim)
    attempt.lease.beat(force=True)
    assert attempt.lease.answer == Beat.DELETED
    assert "the job was deleted" in attempt.stop()


def test_an_attempt_canceled_during_its_upload_removes_its_object(worker_context, db, make_user):
    user_id, _ = make_user()
    key = f"{user_id}/video-files/x/v.mp4"
    context.storage().put_bytes(key, FIRST)
    claim, _ = queued_job_of(db, user_id, key, digest(FIRST))
    with db.session() as session:
        claim = jobs.claim(session, claim.job_id, "w", 30)
    attempt = RenderAttempt(claim)
    work = load(claim)
    assert attempt.start_upload()
    with db.session() as session:
        assert jobs.request_cancel(session, claim.job_id) == JobState.UPLOADING
    context.storage().put_bytes(work.output_key, b"the finished render")

    result = RenderResult(work.output_key, 30, 48000, 1.0, "h264")
    assert attempt.finalize(work, result, 19) == JobState.CANCELED
    assert not context.storage().exists(work.output_key)
    with db.session() as session:
        job = session.get(RenderJob, claim.job_id)
        assert (job.state, session.get(Asset, job.asset_id).status) == (JobState.CANCELED,) * 2
