"""The farm page's model: queues, workers, running renders and recent failures.

Every signed-in user sees the whole farm, but another owner's render shows no owner, id or
file name: only the caller's own entries carry `asset_id` and `filename`.
"""
from __future__ import annotations

from typing import Optional

from pydantic import BaseModel


class QueueOut(BaseModel):
    name: str
    waiting_messages: Optional[int]  # in the broker; None when it does not answer
    queued_renders: int  # render jobs in state queued for this queue


class WorkerOut(BaseModel):
    name: str
    queues: list[str]
    running: int  # renders it holds a lease on


class RunningRender(BaseModel):
    mine: bool
    asset_id: Optional[str]
    filename: Optional[str]
    queue: str
    state: str
    progress: float
    attempt: int
    worker: Optional[str]


class FailedRender(BaseModel):
    mine: bool
    asset_id: Optional[str]
    filename: Optional[str]
    queue: str
    attempt: int
    error: str
    failed_at: str


class CacheOut(BaseModel):
    """The caller's own render cache: pieces kept to be reused, and the farm's budget per
    owner (CANOPY_RENDER_CACHE_BYTES; 0: the cache is off)."""

    entries: int
    bytes: int
    budget: int


class FarmOut(BaseModel):
    broker_answered: bool
    queues: list[QueueOut]
    workers: Optional[list[WorkerOut]]  # None when the broker does not answer
    running: list[RunningRender]
    failures: list[FailedRender]
    cache: CacheOut
    generated_at: str
