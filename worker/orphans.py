"""The orphan sweep: delete stored objects that no row references any more.

Most objects go with their row (a delete removes the row's folder), but some outlive it: the
bytes a `direct` S3 link takes after its row was deleted (a presigned PUT cannot be refused),
a render attempt or an upload whose clean-up failed. An object is an orphan when the row whose
folder holds it (shared.keys) is gone, or no longer names it as its object or thumbnail (or,
for a render, as one of its pieces; for a render-cache entry, as its piece).
Objects younger than the grace period are kept: an upload or a render stores its object a
moment before its row names it. Keys outside every row's folder are not ours to judge.
"""
from __future__ import annotations

import logging
import time
from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared import keys, render_cache
from shared.models import Asset, RenderCacheEntry, RenderJob, RenderPiece

log = logging.getLogger(__name__)

BATCH = 500  # rows read per query


def sweep_orphans(session: Session, storage, grace_seconds: float, now: float | None = None,
                  prefix: str = "") -> list[str]:
    """Delete the orphans (under `prefix/`, or anywhere) last written more than
    `grace_seconds` before `now`; their keys."""
    cutoff = (time.time() if now is None else now) - grace_seconds
    candidates: dict[tuple, list[str]] = defaultdict(list)  # (model, row id, owner) → keys
    for stored in storage.list_objects(prefix):
        found = keys.owning_row(stored.key)
        if found is not None and stored.modified < cutoff:
            candidates[found].append(stored.key)
    orphans = _orphans(session, candidates)
    session.commit()  # read: no transaction held across the store's deletes
    for key in orphans:
        storage.delete(key)
    if orphans:
        log.info("orphan sweep: deleted %d objects no row references", len(orphans))
    return orphans


def _orphans(session: Session, candidates: dict[tuple, list[str]]) -> list[str]:
    """The candidates their row does not name (or that have no row), rows read by id."""
    by_model: dict[type, list[tuple]] = defaultdict(list)
    for owner in candidates:
        by_model[owner[0]].append(owner)
    orphans = []
    for model, owners in by_model.items():
        if model is RenderCacheEntry:
            orphans += _cache_orphans(session, {row: candidates[row] for row in owners})
            continue
        for start in range(0, len(owners), BATCH):
            batch = owners[start:start + BATCH]
            ids = [row_id for _, row_id, _ in batch]
            rows = {row.id: row for row in session.execute(
                select(model.id, model.owner_id, model.storage_key, model.thumbnail_key)
                .where(model.id.in_(ids))).all()}
            pieces = _pieces(session, ids) if model is Asset else {}
            for owner in batch:
                row = rows.get(owner[1])
                mine = row is not None and row.owner_id == owner[2]
                named = {row.storage_key, row.thumbnail_key} if mine else set()
                named |= pieces.get(owner[1], set())
                orphans += [key for key in candidates[owner] if key not in named]
    return orphans


def _cache_orphans(session: Session, candidates: dict[tuple, list[str]]) -> list[str]:
    """Render-cache objects ({owner}/render-cache/{entry key}/...) no entry names."""
    wanted: dict[str, list[str]] = defaultdict(list)
    for _, entry_key, owner_id in candidates:
        wanted[owner_id].append(entry_key)
    named = render_cache.named(session, wanted)
    return [key for found in candidates.values() for key in found if key not in named]


def _pieces(session: Session, asset_ids: list[str]) -> dict[str, set[str]]:
    """The stored pieces of the renders of `asset_ids`, by asset id (kept until the join)."""
    named: dict[str, set[str]] = defaultdict(set)
    for asset_id, key in session.execute(
            select(RenderJob.asset_id, RenderPiece.output_key)
            .join(RenderPiece, RenderPiece.job_id == RenderJob.id)
            .where(RenderJob.asset_id.in_(asset_ids), RenderPiece.output_key.is_not(None))):
        named[asset_id].add(key)
    return named
