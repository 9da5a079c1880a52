"""The render cache on the farm (the rows: shared/render_cache.py): which planned pieces a
cache entry serves, whether the join may use an entry it downloaded, and the join's checked
pieces kept as entries.

    plan: every video piece keyed (piece_keys.piece_key); a stored entry of the owner's with
          the piece's frame count and the stored size it recorded serves it (a mismatch is
          a miss, and evicted)
    join: a reused piece's download must have the entry's sha256, else the entry is
          refused: evicted, its piece queued to render anew (never a failed render)
    after the join: each piece rendered by this render becomes an entry (claimed once)
    whole outputs: an edit the owner rendered before, from sources of the same contents, is
    served by copying the stored output (its sha256 checked while it streams) to the new
    render's own object, without rendering; each finished render keeps its output so

Keys depend only on content, never on the owner, but entries are the owner's alone.
"""
from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence

from shared import keys, render_cache
from shared.render_cache import Entry
from shared.storage import ObjectNotFound
from shared.digests import canonical_sha256, file_sha256
from worker.render import PieceSpan, RenderResult, engine_build, piece_key, piece_settings

from . import context
from .attempt import CONTENT_TYPES, Work

log = logging.getLogger(__name__)

Cached = list[tuple[str | None, str | None]]  # per video piece: (key, reused entry's object)


def enabled(work: Work) -> bool:
    """Whether this render's pieces are keyed and kept (the farm's budget is not 0)."""
    return context.settings().render_cache_bytes > 0


def contents(work: Work) -> dict[str, str | None]:
    return {sid: sha for sid, (_, sha) in work.sources.items()}


def plan(session, owner_id: str, work: Work, timeline, spans: Sequence[PieceSpan]
         ) -> tuple[Cached, list[str]]:
    """Each video piece's key and the object of the entry that serves it (None: render
    it), and the objects of entries found wrong (evicted: the caller deletes them after the
    commit). In the plan's transaction: entries used are touched, the counters moved."""
    if not enabled(work):
        return [(None, None)] * len(spans), []
    settings = piece_settings(work.edit, timeline)
    wanted = [piece_key(timeline, span, settings, contents(work)) for span in spans]
    found = (render_cache.lookup(session, owner_id, [k for k in wanted if k])
             if work.edit.use_cache else {})
    cached, hit_bytes, bad = [], 0, []
    for key, span in zip(wanted, spans):
        entry = found.get(key) if key else None
        if entry is not None and not _whole(entry, span):
            bad.append(entry)
            entry = None
        hit_bytes += entry.bytes if entry else 0
        cached.append((key, entry.object_key if entry else None))
    for entry in bad:
        render_cache.evict(session, owner_id, entry.key)
    hits = sum(1 for _, reuse in cached if reuse)
    render_cache.count(session, hits=hits, hit_bytes=hit_bytes, misses=len(spans) - hits,
                       refused=len(bad))
    return cached, [e.object_key for e in bad]


def _whole(entry: Entry, span: PieceSpan) -> bool:
    """The entry holds the piece's frames, and its object the bytes it recorded."""
    if entry.frames != span.end - span.start:
        return False
    try:
        return context.storage().size(entry.object_key) == entry.bytes
    except ObjectNotFound:
        return False


def delete_object(key: str | None) -> None:
    if not key:
        return
    try:
        context.storage().delete(key)
    except Exception:  # the store may be what failed: the sweep removes the orphan later
        log.warning("could not delete the cache object %s", key, exc_info=True)


def refused(owner_id: str, reused: Sequence, paths: Sequence[str | None]) -> list:
    """The reused pieces whose downloaded file (None: the download failed) is not the
    entry's bytes: its entry gone from the store, or truncated or changed there."""
    with context.db().session() as session:
        found = render_cache.entries(session, owner_id, [p.cache_key for p in reused])
    bad = []
    for piece, path in zip(reused, paths):
        entry = found.get(piece.cache_key)
        if (path is None or entry is None or entry.object_key != piece.output_key
                or os.path.getsize(path) != entry.bytes or file_sha256(path) != entry.sha256):
            bad.append(piece)
    return bad


def evict_refused(session, owner_id: str, pieces: Sequence) -> list[str]:
    """Evict the refused pieces' entries, in this transaction; their objects, for the
    caller to delete after the commit."""
    gone = [render_cache.evict(session, owner_id, p.cache_key) for p in pieces]
    render_cache.count(session, refused=len(pieces))
    return [key for key in gone if key]


def keep(owner_id: str, work: Work, pieces: Sequence, paths: Sequence[str]) -> int:
    """Keep the pieces this render made (checked by its join) as the owner's entries; how
    many were written. A render that did not use the cache replaces the entries it finds.
    Never fails the render: a piece not kept is only a later miss."""
    kept = 0
    sources = [sha for sha in contents(work).values() if sha]
    for piece, path in zip(pieces, paths):
        if piece.reused or not piece.cache_key:
            continue
        try:
            kept += _keep_one(owner_id, piece, path, sources, refresh=not work.edit.use_cache)
        except Exception:
            log.warning("could not keep piece %s in the render cache", piece.index,
                        exc_info=True)
    return kept


def _keep_one(owner_id: str, piece, path: str, sources: list[str], refresh: bool) -> int:
    entry = Entry(piece.cache_key, keys.cache_object_key(owner_id, piece.cache_key),
                  os.path.getsize(path), piece.frames, file_sha256(path))
    return _store(owner_id, entry, path, sources, refresh)


def _store(owner_id: str, entry: Entry, path: str, sources: list[str], refresh: bool) -> int:
    """Claim the entry, store `path` as its object, mark it stored: 1, or 0 when another
    render has it (each entry is written once)."""
    with context.db().session() as session:
        claimed, old = render_cache.claim(session, owner_id, entry, sources, replace=refresh)
    delete_object(old)
    if not claimed:
        return 0  # another render wrote (or writes) it: written once
    context.storage().put_file(entry.object_key, path)
    with context.db().session() as session:
        if render_cache.mark_stored(session, owner_id, entry):
            return 1
    delete_object(entry.object_key)  # evicted meanwhile
    return 0


def output_key(work: Work, chunk_seconds: float, encoder: str) -> str | None:
    """The key of the render's whole output: the edit but for what never shows in it (its
    name, description, output filename, callback, the cache flag), its sources' contents,
    how the farm cuts and encodes it, and the engine's build. None when a source's content
    is not known, or the cache is off."""
    shown = contents(work)
    if not enabled(work) or not all(shown.values()):
        return None
    edit = work.edit.model_dump(mode="json", exclude={
        "name", "description", "video_output_filename", "callback_url"})
    (edit.get("render_options") or {}).pop("cache", None)
    inputs = {"output": edit, "contents": shown, "chunk_seconds": chunk_seconds,
              "encoder": encoder, "engine": engine_build()}
    return canonical_sha256(inputs)


def serve(work: Work, key: str) -> Entry | None:
    """Copy the owner's stored output of `key` to the render's own object, its bytes checked
    as they stream (an entry found wrong is evicted: the render then renders); the entry,
    or None (a miss)."""
    if not work.edit.use_cache:
        return None
    with context.db().session() as session:
        entry = render_cache.lookup(session, work.owner_id, [key]).get(key)
        render_cache.count(session, hits=int(entry is not None),
                           hit_bytes=entry.bytes if entry else 0)
        session.commit()
    if entry is None or entry.facts is None:
        return None
    store = context.storage()
    reader = HashingReader(store.iter_range, entry.object_key)
    try:
        size = store.put_stream(work.output_key, reader,
                                CONTENT_TYPES[work.edit.video_output_format], length=entry.bytes)
    except Exception:  # gone from the store, cut short, or the store failed: a miss
        log.warning("could not serve render-cache entry %s", key, exc_info=True)
        size = -1
    if size == entry.bytes and reader.digest.hexdigest() == entry.sha256:
        return entry
    delete_object(work.output_key)
    with context.db().session() as session:
        gone = render_cache.evict(session, work.owner_id, key)
        render_cache.count(session, refused=1)
        session.commit()
    delete_object(gone)
    return None


class HashingReader:
    """A stored object as a file to read from, hashed (sha256) as it is read."""

    def __init__(self, iter_range, key: str):
        self.chunks, self.digest, self.buffer = iter_range(key), hashlib.sha256(), b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self.buffer) < size:
            chunk = next(self.chunks, None)
            if chunk is None:
                break
            self.buffer += chunk
        out = self.buffer if size < 0 else self.buffer[:size]
        self.buffer = self.buffer[len(out):]
        self.digest.update(out)
        return out


def keep_output(work: Work, key: str, path: str, result: RenderResult, facts: dict) -> bool:
    """Keep a finished render's output as the owner's entry of `key`, with what its finish
    recorded (`facts`, the result's duration, codec and warnings). Never fails the render."""
    recorded = {"facts": facts, "duration": result.duration, "samples": result.samples,
                "video_codec": result.video_codec, "warnings": list(result.warnings)}
    try:
        entry = Entry(key, keys.cache_object_key(work.owner_id, key,
                                                 work.edit.video_output_format),
                      os.path.getsize(path), result.frames, file_sha256(path), recorded)
        return bool(_store(work.owner_id, entry, path, [s for s in contents(work).values() if s],
                           refresh=not work.edit.use_cache))
    except Exception:
        log.warning("could not keep the render's output in the render cache", exc_info=True)
        return False


def served_result(work: Work, entry: Entry) -> tuple[RenderResult, dict]:
    """The result and stream facts a served output is finalized with: its first render's."""
    recorded = entry.facts
    return (RenderResult(work.output_key, entry.frames, recorded["samples"],
                         recorded["duration"], recorded["video_codec"],
                         list(recorded["warnings"])), recorded["facts"])
