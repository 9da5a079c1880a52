"""Completes a wheelhouse for another Python 3.11 than the one that built it.

`pip wheel -r requirements.txt` keeps only what the building interpreter's markers ask for
(the host's 3.11.7 skips `async-timeout; python_full_version < "3.11.3"`, which Debian's 3.11.2
needs). This walks requirements.txt and every wheel's Requires-Dist with the image's
interpreter's markers and adds the wheels that are missing.

    python deploy/check/wheelhouse.py requirements.txt WHEEL_DIR 3.11.2
"""
from __future__ import annotations

import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename


def wheels(folder: Path) -> dict[str, Path]:
    return {parse_wheel_filename(p.name)[0]: p for p in folder.glob("*.whl")}


def requires(wheel: Path) -> list[Requirement]:
    with zipfile.ZipFile(wheel) as zf:
        [meta] = [n for n in zf.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
        message = Parser().parsestr(zf.read(meta).decode())
    return [Requirement(line) for line in message.get_all("Requires-Dist") or []]


def complete(requirements: Path, folder: Path, python_full_version: str) -> list[str]:
    env = default_environment()
    env.update(python_full_version=python_full_version,
               python_version=".".join(python_full_version.split(".")[:2]))
    todo = [Requirement(line.split("#")[0].strip()) for line in requirements.read_text().splitlines()
            if line.split("#")[0].strip()]
    seen: set[tuple[str, str]] = set()
    added = []
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        extras = sorted(req.extras) or [""]
        if all((name, extra) in seen for extra in extras):
            continue
        seen.update((name, extra) for extra in extras)
        have = wheels(folder)
        if name not in have:
            subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                            "-w", str(folder), str(Requirement(f"{req.name}{req.specifier}"))],
                           check=True)
            added.append(req.name)
            have = wheels(folder)
        for dep in requires(have[name]):
            if dep.marker is None or any(dep.marker.evaluate({**env, "extra": extra})
                                         for extra in extras):
                todo.append(dep)
    return added


if __name__ == "__main__":
    added = complete(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3])
    print("added for Python", sys.argv[3], ":", ", ".join(added) or "nothing", file=sys.stderr)
