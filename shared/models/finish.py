"""One row per finished render: the farm's ledger, and its webhook's outbox and record.

A row is written in the same transaction as the job's move into a finished state
(`shared.finishes.record`), so no finish is ever missed, whoever decided it. It has no
foreign keys: it outlives its job and asset (until the reaper prunes it, once its webhook
is done and CANOPY_WEBHOOK_RETENTION_DAYS have passed: `shared.finishes.prune`). The
metrics read the running totals kept beside it (`RenderTotal`), which nothing prunes.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, Reason, id_column


class RenderFinish(Base):
    __tablename__ = "render_finishes"

    # Also the webhook's `webhook-id`: the same on every try, so receivers can deduplicate.
    id: Mapped[str] = id_column()
    job_id: Mapped[str] = mapped_column(String(36), unique=True, nullable=False)
    owner_id: Mapped[str] = mapped_column(String(36), index=True, nullable=False)
    asset_id: Mapped[str] = mapped_column(String(36), index=True, nullable=False)
    project_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    edit_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    state: Mapped[str] = mapped_column(String(20), nullable=False)  # uploaded | failed | canceled
    error: Mapped[str | None] = mapped_column(Reason, nullable=True)
    finished_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, index=True)
    # From the render's creation to its first claim; from that claim to the finish (None:
    # never claimed); the output's length and size (uploaded renders only).
    queued_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    wall_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    output_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # The webhook, when the edit carried a callback_url: pending → delivered | failed.
    callback_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    webhook_state: Mapped[str | None] = mapped_column(String(20), nullable=True, index=True)
    tries: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # When the next try is due (pending), or held by the try in flight (its lease).
    next_try_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class RenderTotal(Base):
    """A running total of the finishes (`shared.totals`): kept in the transaction of each
    finish and each webhook's end, so metrics read a few rows instead of the whole ledger.

    Per outcome (a job's finished state, or a webhook's delivery state) and series: `count`
    and `total` (bucket ""), and per histogram bucket the count of values that fell in it
    and in no lower one (bucket: its upper bound as the exposition writes it).
    """
    __tablename__ = "render_totals"

    outcome: Mapped[str] = mapped_column(String(20), primary_key=True)
    series: Mapped[str] = mapped_column(String(40), primary_key=True)
    bucket: Mapped[str] = mapped_column(String(20), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)
    total: Mapped[float] = mapped_column(Float, default=0.0, nullable=False)
