"""python -m worker.render EDIT.json --source ID=PATH [--source ...] --output OUT [--encoder ...]
[--chunk-seconds N]"""
from __future__ import annotations

import argparse
import json
import sys
import time

from pydantic import ValidationError

from shared.edit import MIN_CHUNK_SECONDS, parse_edit

from .errors import InvalidEditError, RenderCanceled, RenderError
from .in_process import render_in_pieces


def _source(text: str) -> tuple[str, str]:
    source_id, sep, path = text.partition("=")
    if not sep or not source_id or not path:
        raise argparse.ArgumentTypeError(f"expected ID=PATH, got {text!r}")
    return source_id.strip().lower(), path


def _chunk_seconds(text: str) -> float:
    value = float(text)
    if value != 0 and not value >= MIN_CHUNK_SECONDS:
        raise argparse.ArgumentTypeError(f"must be 0 or at least {MIN_CHUNK_SECONDS}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m worker.render",
                                     description="Render a Video Jungle edit without the farm.")
    parser.add_argument("edit", help="the edit JSON file")
    parser.add_argument("--source", action="append", type=_source, default=[],
                        metavar="ID=PATH", help="a local file for a video_id/audio_id")
    parser.add_argument("--output", required=True, help="the file to write")
    parser.add_argument("--encoder", choices=("auto", "cpu", "gpu"), default=None)
    parser.add_argument("--chunk-seconds", type=_chunk_seconds, default=0, metavar="N",
                        help="render in pieces of about N seconds, one after another, and "
                             "join them (as the farm does across workers); 0: one piece")
    args = parser.parse_args(argv)
    try:
        with open(args.edit) as fh:
            edit, _ = parse_edit(json.load(fh))
    except (OSError, ValueError, ValidationError) as exc:
        print(f"invalid edit: {exc}", file=sys.stderr)
        return 2
    started = time.monotonic()

    def progress(done: int, total: int) -> None:
        print(f"\r{done}/{total} frames ({100 * done / max(total, 1):.0f}%)", end="",
              file=sys.stderr, flush=True)

    try:
        result = render_in_pieces(edit, dict(args.source), args.output, args.chunk_seconds,
                                  on_progress=progress, encoder=args.encoder)
    except InvalidEditError as exc:
        print(f"\nthe edit does not fit its sources: {json.dumps(exc.errors)}", file=sys.stderr)
        return 2
    except (RenderError, RenderCanceled) as exc:
        print(f"\nrender failed: {exc}", file=sys.stderr)
        return 1
    print(file=sys.stderr)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    joined = f"{result.pieces} pieces joined, " if result.pieces > 1 else ""
    joined += f"{result.copied} frames copied, " if result.copied else ""
    print(f"{result.output}: {result.frames} frames, {result.samples} samples, "
          f"{result.duration:.3f} s, {result.video_codec}, {joined}"
          f"{time.monotonic() - started:.1f} s to render")
    return 0


if __name__ == "__main__":
    sys.exit(main())
