"""shared/states.py: the job's transition table and the WHERE it builds."""
from __future__ import annotations

import pytest

from shared.models import RenderJob, RenderPiece
from shared.states import (ACTIVE, FINISHED, JOB, PENDING, PIECE, PIECE_ACTIVE, JobState,
                           PieceState)


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
