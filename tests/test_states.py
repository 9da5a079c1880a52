"""shared/states.py: the job's transition table and the WHERE it builds."""
from __future__ import annotations

import pytest

from shared.models import RenderJob
from shared.states import ACTIVE, FINISHED, JOB, PENDING, JobState


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
