"""python -m worker.render EDIT.json --source ID=PATH [--source ...] --output OUT [--encoder ...]"""
from __future__ import annotations

import argparse
import json
import sys
import time

from pydantic import ValidationError

from shared.edit import parse_edit

from .engine import render
from .errors import InvalidEditError, RenderCanceled, RenderError


def _source(text: str) -> tuple[str, str]:
    source_id, sep, path = text.partition("=")
    if not sep or not source_id or not path:
        raise argparse.ArgumentTypeError(f"expected ID=PATH, got {text!r}")
    return source_id.strip().lower(), path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m worker.render",
                                     description="Render a Video Jungle edit without the farm.")
    parser.add_argument("edit", help="the edit JSON file")
    parser.add_argument("--source", action="append", type=_source, default=[],
                        metavar="ID=PATH", help="a local file for a video_id/audio_id")
    parser.add_argument("--output", required=True, help="the file to write")
    parser.add_argument("--encoder", choices=("auto", "cpu", "gpu"), default=None)
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
        result = render(edit, dict(args.source), args.output, on_progress=progress,
                        encoder=args.encoder)
    except InvalidEditError as exc:
        print(f"\nthe edit does not fit its sources: {json.dumps(exc.errors)}", file=sys.stderr)
        return 2
    except (RenderError, RenderCanceled) as exc:
        print(f"\nrender failed: {exc}", file=sys.stderr)
        return 1
    print(file=sys.stderr)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"{result.output}: {result.frames} frames, {result.samples} samples, "
          f"{result.duration:.3f} s, {result.video_codec}, "
          f"{time.monotonic() - started:.1f} s to render")
    return 0


if __name__ == "__main__":
    sys.exit(main())
