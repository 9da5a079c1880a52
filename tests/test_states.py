"""shared/states.py: the transition tables (jobs, pieces, uploaded files) and the WHERE they
build."""
from __future__ import annotations

import pytest

from shared.models import RenderJob, RenderPiece, VideoFile
from shared.states import (ACTIVE, FINISHED, JOB, MEDIA, PENDING, PIECE, PIECE_ACTIVE, JobState,
                           MediaState, PieceState)


def test_a_move_the_table_lacks_is_refused_before_any_sql():
    with pytest.raises(ValueError, match="no transition"):
        JOB.may_go(RenderJob.state, JobState.UPLOADED, JobState.QUEUED)


def test_the_where_names_exactly_the_states_that_may_move():
    where = JOB.may_go(RenderJob.state, JobState.CANCELED)
    assert set(where.right.value) == PENDING | ACTIVE
    assert set(JOB.may_go(RenderJob.state, JobState.RENDERING).right.value) == {JobState.QUEUED}


def test_every_unfinished_job_can_end_and_a_finished_one_never_moves():
    for state in JobState:
        if state in FINISHED:
            assert not any(JOB.allows(state, to) for to in JobState), state
        else:
            assert JOB.allows(state, JobState.FAILED) and JOB.allows(state, JobState.CANCELED)


def test_a_piece_lives_by_its_own_table():
    """A piece never waits (its job does), is claimed only from queued, a failed or
    canceled piece never moves, and a stored one only back to queued (a render-cache entry
    its join refused)."""
    assert set(PIECE.may_go(RenderPiece.state, PieceState.RENDERING).right.value) == {
        PieceState.QUEUED}
    with pytest.raises(ValueError, match="no transition"):
        PIECE.may_go(RenderPiece.state, PieceState.UPLOADED, PieceState.RENDERING)
    for state in PieceState:
        if state in PIECE_ACTIVE:
            assert all(PIECE.allows(state, to) for to in
                       (PieceState.QUEUED, PieceState.FAILED, PieceState.CANCELED)), state
        elif state == PieceState.UPLOADED:
            assert [to for to in PieceState if PIECE.allows(state, to)] == [PieceState.QUEUED]
        elif state != PieceState.QUEUED:
            assert not any(PIECE.allows(state, to) for to in PieceState), state


def test_an_uploaded_file_lives_by_its_own_table():
    """Bytes or a URL start the processing; only the probe (or the fetch) ends it, or a
    refused upload gives the former state back; an analysed or failed file is processed
    again only by a new upload or a new analysis. Any other move is refused before SQL."""
    assert set(MEDIA.may_go(VideoFile.status, MediaState.PROCESSING).right.value) == {
        MediaState.WAITING, MediaState.ANALYZED, MediaState.FAILED}
    for state in (MediaState.WAITING, MediaState.ANALYZED, MediaState.FAILED):
        assert [to for to in MediaState if MEDIA.allows(state, to)] == [MediaState.PROCESSING]
        assert MEDIA.allows(MediaState.PROCESSING, state)  # the probe's end, or given back
    assert MEDIA.move(MediaState.PROCESSING, MediaState.ANALYZED) == MediaState.ANALYZED
    with pytest.raises(ValueError, match="no transition"):
        MEDIA.move(MediaState.ANALYZED, MediaState.ANALYZED)  # a probe's second finish
