"""python -m worker.render: renders without the farm and reports progress."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.fixtures.edits import clip, make_edit, overlay

REPO = Path(__file__).resolve().parents[2]


def _run(*args):
    return subprocess.run([sys.executable, "-m", "worker.render", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def test_cli_renders_and_prints_progress(media, tmp_path):
    a, music = media["a30"], media["music"]
    edit = tmp_path / "edit.json"
    edit.write_text(json.dumps(make_edit([clip(a[0], 0, 1)], [overlay(music[0])],
                                         extra_key=1)))
    out = tmp_path / "out.mp4"
    done = _run(edit, "--source", f"{a[0]}={a[1]}", "--source", f"{music[0]}={music[1]}",
                "--output", out, "--encoder", "cpu")
    assert done.returncode == 0, done.stderr
    assert "30 frames, 48000 samples" in done.stdout
    assert "30/30 frames" in done.stderr and "extra_key" in done.stderr
    assert out.stat().st_size > 0


def test_cli_explains_what_is_wrong(media, tmp_path):
    edit = tmp_path / "edit.json"
    edit.write_text(json.dumps(make_edit([clip(media["a30"][0], 0, 1)], video_output_fps=500)))
    bad = _run(edit, "--output", tmp_path / "o.mp4")
    assert bad.returncode == 2 and "video_output_fps" in bad.stderr
    edit.write_text(json.dumps(make_edit([clip(media["a30"][0], 0, 1)])))
    missing = _run(edit, "--output", tmp_path / "o.mp4")
    assert missing.returncode == 1 and "no source file" in missing.stderr


def test_cli_renders_in_pieces_and_joins(media, tmp_path):
    a = media["a30"]
    edit = tmp_path / "edit.json"
    edit.write_text(json.dumps(make_edit([clip(a[0], 0, 5)])))
    out = tmp_path / "out.mp4"
    done = _run(edit, "--source", f"{a[0]}={a[1]}", "--output", out, "--chunk-seconds", 2)
    assert done.returncode == 0, done.stderr
    assert "150 frames, 240000 samples" in done.stdout and "3 pieces joined" in done.stdout
    assert "150/150 frames" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["edit.json", "out.mp4"]
    tiny = _run(edit, "--source", f"{a[0]}={a[1]}", "--output", out, "--chunk-seconds", 1)
    assert tiny.returncode == 2 and "--chunk-seconds" in tiny.stderr
