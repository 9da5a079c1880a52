"""canopy render | status | cancel | ls — run `canopy --help`.

Exit status: 0 done; 1 the render failed or was canceled, or the server refused (the reason
goes to stderr); 2 bad arguments; 130 interrupted.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path

from .client import ApiError, Client, printable
from .render import Interrupted, RenderFailed, render

DEFAULT_URL = "http://127.0.0.1:8000"


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    take_ctrl_c()
    if not args.key:
        print("canopy: no API key: pass --key or set CANOPY_KEY", file=sys.stderr)
        return 2
    client = Client(args.url, args.key)
    try:
        return args.run(client, args)
    except ApiError as exc:
        return fail(args, str(exc))
    except Interrupted as exc:  # before RenderFailed, which it is
        return fail(args, str(exc), exc.asset, code=130)
    except RenderFailed as exc:
        return fail(args, str(exc), exc.asset)
    except KeyboardInterrupt:
        return fail(args, "interrupted", code=130)


def take_ctrl_c() -> None:
    """Ctrl-C on the terminal whose foreground job we lead is meant for us: take it back when
    we started with SIGINT ignored. A shell without job control ignores SIGINT in what it
    starts in the background, and children inherit that (a suite run as `make test &`
    started this command on a terminal of its own: its Ctrl-C was echoed and went nowhere).
    Elsewhere (no terminal, or a background job in its shell's group) it stays ignored."""
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        return
    try:
        leads_foreground = os.getpgrp() == os.getpid() == os.tcgetpgrp(sys.stdin.fileno())
    except (OSError, ValueError, AttributeError):  # stdin is no terminal, or none
        return
    if leads_foreground:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="canopy", description="Render edits on a Canopy farm.",
                                  epilog=__doc__.split("\n", 2)[2],
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    connection_options(top, os.environ)
    # The same options after the command (`canopy ls --json`); unset there, the top's stand.
    common = argparse.ArgumentParser(add_help=False)
    connection_options(common, os.environ, default=argparse.SUPPRESS)
    commands = top.add_subparsers(dest="command", required=True)

    p = commands.add_parser("render", parents=[common], help="upload sources, render, download")
    p.add_argument("edit", type=Path, help="the edit JSON (video_edit_version 1.0)")
    p.add_argument("--source", action="append", default=[], metavar="ID=PATH",
                   help="a local file for the edit's source ID (repeat for each)")
    p.add_argument("--output", "-o", type=Path, required=True, help="where to save the video")
    p.add_argument("--project", help="render in this project (default: one named 'canopy-cli')")
    p.set_defaults(run=render_command)

    p = commands.add_parser("status", parents=[common], help="a render's status")
    p.add_argument("asset_id")
    p.set_defaults(run=status_command)

    p = commands.add_parser("cancel", parents=[common], help="cancel a queued or running render")
    p.add_argument("asset_id")
    p.set_defaults(run=cancel_command)

    p = commands.add_parser("ls", parents=[common], help="your renders, newest first")
    p.add_argument("--project", help="only this project's")
    p.set_defaults(run=ls_command)
    return top


def connection_options(p: argparse.ArgumentParser, env, default=None) -> None:
    p.add_argument("--url", default=default or env.get("CANOPY_URL") or DEFAULT_URL,
                   help=f"the server (env CANOPY_URL; default {DEFAULT_URL})")
    p.add_argument("--key", default=default or env.get("CANOPY_KEY"),
                   help="your API key (env CANOPY_KEY)")
    p.add_argument("--json", action="store_true", default=default or False,
                   help="print JSON for scripts (no progress bar)")


def render_command(client: Client, args) -> int:
    sources = {}
    for item in args.source:
        source_id, sep, path = item.partition("=")
        if not sep or not source_id or not path:
            return fail(args, f"--source {item!r}: expected ID=PATH", code=2)
        if not Path(path).is_file():
            return fail(args, f"--source {source_id}: no such file: {path}", code=2)
        sources[source_id] = Path(path)
    try:
        edit = json.loads(args.edit.read_text())
    except (OSError, ValueError) as exc:
        return fail(args, f"{args.edit}: {exc}", code=2)
    unwritable = output_problem(args.output)
    if unwritable:  # before any upload or render, not after
        return fail(args, f"--output {args.output}: {unwritable}", code=2)
    result = render(client, edit, sources, args.output, project_id=args.project,
                    show_progress=not args.json and sys.stderr.isatty(), as_json=args.json)
    if args.json:
        print(json.dumps(result))
    else:
        print(printable(f"{args.output}: {result['size']} bytes (asset {result['asset_id']})"))
    return 0


def output_problem(output: Path) -> str | None:
    """Why the video cannot be saved at `output`, or None."""
    folder = output.parent
    if output.is_dir():
        return "is a folder"
    if not folder.is_dir():
        return f"no such folder: {folder}"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"cannot write into {folder}"
    return None


def status_command(client: Client, args) -> int:
    state = client.call("GET", f"/assets/{args.asset_id}/status")
    if args.json:
        print(json.dumps(state))
    else:
        print(describe(state))
    return 1 if state["status"] in ("failed", "canceled") else 0


def cancel_command(client: Client, args) -> int:
    asset = client.call("POST", f"/assets/{args.asset_id}/cancel")
    state = {k: asset.get(k) for k in ("id", "status", "progress", "error")}
    print(json.dumps(state) if args.json else describe(state))
    return 0


def ls_command(client: Client, args) -> int:
    projects = ([client.call("GET", f"/projects/{args.project}")] if args.project
                else client.projects())
    renders = [{**a, "project_name": project["name"]} for project in projects
               for a in project.get("assets", []) if a.get("asset_type") == "generated_video"]
    renders.sort(key=lambda a: a["created_at"], reverse=True)
    if args.json:
        print(json.dumps([{k: a.get(k) for k in LS_FIELDS} for a in renders]))
        return 0
    for a in renders:
        print(printable(f"{a['id']}  {a['created_at'][:19]}  {a['status']:<9} "
                        f"{a['progress']:>4.0%}  {a['project_name']}/{a.get('keyname', '')}"))
    return 0


LS_FIELDS = ("id", "project_id", "project_name", "keyname", "status", "progress", "error",
             "created_at", "download_url")


def describe(state: dict) -> str:
    line = f"{state['id']}: {state['status']} {float(state.get('progress') or 0):.0%}"
    return printable(line + (f" — {state['error']}" if state.get("error") else ""))


def fail(args, reason: str, asset: str | None = None, code: int = 1) -> int:
    print(f"canopy: {printable(reason)}", file=sys.stderr)
    if getattr(args, "json", False):
        print(json.dumps({"error": reason, "asset_id": asset}))
    return code
