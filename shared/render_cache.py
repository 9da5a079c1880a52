"""The render cache: the pieces an owner's renders in pieces stored, kept after their join so
that the owner's later renders reuse them instead of rendering them again.

An entry is keyed by what its piece's bytes depend on (worker/render/piece_keys.py), per
owner: a lookup reads only the caller's own entries, so no answer, timing or count tells one
owner what another rendered. Its life:

    claim (row, not stored) → object uploaded → mark_stored → found by `lookup` (touched)
    → evicted: refused by a join, least recently used past the owner's budget, its
      sources' content deleted, a claim whose writer died, or replaced (cache: false)

Only a join writes entries, after its checks passed, so only checked pieces are kept; the
claim makes two renders that made the same piece write it once. Evicting deletes the row
here; the caller deletes the object after the commit (an object without its row is an
orphan the sweep removes).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, exists, func, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import totals
from .models import Asset, RenderCacheEntry, RenderCacheSource, VideoFile, utcnow

CACHE = totals.CACHE  # the running totals' series: count = pieces, total = bytes
HIT, MISS, REFUSED = "hit", "miss", "refused"
# A claim not stored after this long lost its writer: its row goes (its object, if any,
# with it).
CLAIM_SECONDS = 3600


@dataclass(frozen=True)
class Entry:
    key: str
    object_key: str
    bytes: int
    frames: int
    sha256: str
    facts: dict | None = None  # a whole output's: what its finish records


def _entry(row) -> Entry:
    return Entry(row.key, row.object_key, row.bytes, row.frames, row.sha256, row.facts)


def entries(session: Session, owner_id: str, wanted: Iterable[str]) -> dict[str, Entry]:
    """The owner's stored entries among the keys `wanted`, read only."""
    wanted = sorted(set(wanted))
    if not wanted:
        return {}
    rows = session.execute(
        select(RenderCacheEntry).where(RenderCacheEntry.owner_id == owner_id,
                                       RenderCacheEntry.key.in_(wanted),
                                       RenderCacheEntry.stored.is_(True))).scalars().all()
    return {row.key: _entry(row) for row in rows}


def lookup(session: Session, owner_id: str, wanted: Iterable[str]) -> dict[str, Entry]:
    """The owner's stored entries among the keys `wanted`, marked used now."""
    found = entries(session, owner_id, wanted)
    if found:
        session.execute(update(RenderCacheEntry)
                        .where(RenderCacheEntry.owner_id == owner_id,
                               RenderCacheEntry.key.in_(sorted(found)))
                        .values(last_used_at=utcnow()))
    return found


def count(session: Session, hits: int = 0, hit_bytes: int = 0, misses: int = 0,
          refused: int = 0) -> None:
    """Add to the farm's cache counters (no owner in them), in this transaction."""
    deltas = {(outcome, CACHE, totals.WHOLE): (n, size)
              for outcome, n, size in ((HIT, hits, hit_bytes), (MISS, misses, 0),
                                       (REFUSED, refused, 0)) if n}
    if deltas:
        totals.add(session, deltas)


def claim(session: Session, owner_id: str, entry: Entry, sources: Iterable[str],
          replace: bool = False) -> tuple[bool, str | None]:
    """Claim the entry for this writer (committed): (claimed, an object key the caller
    deletes). False when another writer has it (stored or being stored), unless `replace`
    (a render that asked not to use the cache refreshes its entries)."""
    old = None
    if replace:
        old = evict(session, owner_id, entry.key)
    row = RenderCacheEntry(owner_id=owner_id, key=entry.key, object_key=entry.object_key,
                           bytes=entry.bytes, frames=entry.frames, sha256=entry.sha256,
                           facts=entry.facts, stored=False)
    session.add(row)
    session.add_all(RenderCacheSource(owner_id=owner_id, key=entry.key, sha256=sha)
                    for sha in sorted(set(sources)))
    try:
        session.commit()
    except IntegrityError:  # another render claimed it first
        session.rollback()
        return False, old
    return True, old


def mark_stored(session: Session, owner_id: str, entry: Entry) -> bool:
    """The claimed entry's object is whole in the store: it may be found from now on."""
    result = session.execute(
        update(RenderCacheEntry)
        .where(RenderCacheEntry.owner_id == owner_id, RenderCacheEntry.key == entry.key,
               RenderCacheEntry.object_key == entry.object_key)
        .values(stored=True, last_used_at=utcnow()))
    session.commit()
    return result.rowcount == 1


def evict(session: Session, owner_id: str, key: str) -> str | None:
    """Delete the entry's row (in this transaction); its object key, for the caller to delete."""
    object_key = session.execute(
        select(RenderCacheEntry.object_key).where(RenderCacheEntry.owner_id == owner_id,
                                                  RenderCacheEntry.key == key)
    ).scalar_one_or_none()
    if object_key is not None:
        _delete(session, owner_id, [key])
    return object_key


def _delete(session: Session, owner_id: str, keys: list[str]) -> None:
    # The sources' rows go by their foreign key's cascade on PostgreSQL; SQLite may run
    # without foreign keys, so they are deleted here as well.
    session.execute(delete(RenderCacheSource).where(RenderCacheSource.owner_id == owner_id,
                                                    RenderCacheSource.key.in_(keys)))
    session.execute(delete(RenderCacheEntry).where(RenderCacheEntry.owner_id == owner_id,
                                                   RenderCacheEntry.key.in_(keys)))


def size(session: Session, owner_id: str) -> tuple[int, int]:
    """(entries, bytes) of the owner's cache."""
    n, total = session.execute(
        select(func.count(), func.coalesce(func.sum(RenderCacheEntry.bytes), 0))
        .where(RenderCacheEntry.owner_id == owner_id)).one()
    return int(n), int(total)


def stored_bytes(session: Session) -> int:
    """All owners' entries together (the farm's gauge: no owner in it)."""
    return int(session.execute(
        select(func.coalesce(func.sum(RenderCacheEntry.bytes), 0))).scalar_one())


def trim(session: Session, budget: int, now=None, owners: list[str] | None = None
         ) -> list[str]:
    """Evict, per owner (of `owners`, or all), the least recently used entries past
    `budget` bytes (every entry when the budget is 0), and claims older than CLAIM_SECONDS;
    committed. The evicted objects' keys."""
    now = now or utcnow()
    only = RenderCacheEntry.owner_id.in_(owners) if owners is not None else true()
    gone: list[tuple[str, str, str]] = [tuple(row) for row in session.execute(
        select(RenderCacheEntry.owner_id, RenderCacheEntry.key, RenderCacheEntry.object_key)
        .where(only, RenderCacheEntry.stored.is_(False),
               RenderCacheEntry.created_at < now - timedelta(seconds=CLAIM_SECONDS)))]
    over = session.execute(
        select(RenderCacheEntry.owner_id).where(only).group_by(RenderCacheEntry.owner_id)
        .having(func.sum(RenderCacheEntry.bytes) > budget)).scalars().all()
    for owner_id in over:
        rows = session.execute(
            select(RenderCacheEntry.key, RenderCacheEntry.object_key, RenderCacheEntry.bytes)
            .where(RenderCacheEntry.owner_id == owner_id)
            .order_by(RenderCacheEntry.last_used_at.desc(), RenderCacheEntry.key)).all()
        kept = 0
        for key, object_key, size_ in rows:
            kept += size_
            if kept > budget:
                gone.append((owner_id, key, object_key))
    by_owner: dict[str, list[str]] = {}
    for owner_id, key, _ in gone:
        by_owner.setdefault(owner_id, []).append(key)
    for owner_id, keys_ in by_owner.items():
        _delete(session, owner_id, keys_)
    session.commit()
    return [object_key for _, _, object_key in gone]


def forget_content(session: Session, owner_id: str, contents: Iterable[str | None]) -> list[str]:
    """Evict (in this transaction) the owner's entries made from any of `contents` that no
    live source of the owner's holds any more; their object keys. Call after the source's
    rows are deleted, before the commit."""
    gone = []
    for sha in {c for c in contents if c}:
        live = session.execute(select(
            exists().where(VideoFile.owner_id == owner_id, VideoFile.sha256 == sha)
            | exists().where(Asset.owner_id == owner_id, Asset.sha256 == sha))).scalar()
        if live:
            continue
        rows = session.execute(
            select(RenderCacheEntry.key, RenderCacheEntry.object_key)
            .join(RenderCacheSource, (RenderCacheSource.owner_id == RenderCacheEntry.owner_id)
                  & (RenderCacheSource.key == RenderCacheEntry.key))
            .where(RenderCacheEntry.owner_id == owner_id, RenderCacheSource.sha256 == sha)
        ).all()
        if rows:
            _delete(session, owner_id, [key for key, _ in rows])
            gone += [object_key for _, object_key in rows]
    return gone


def named(session: Session, wanted: Mapping[str, Iterable[str]]) -> set[str]:
    """The object keys rows name among {owner id: [entry keys]} (the orphan sweep's)."""
    found = set()
    for owner_id, keys_ in wanted.items():
        found |= set(session.execute(
            select(RenderCacheEntry.object_key)
            .where(RenderCacheEntry.owner_id == owner_id,
                   RenderCacheEntry.key.in_(sorted(set(keys_))))).scalars())
    return found
