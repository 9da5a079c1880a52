"""The README's Layout section names every module of api/, worker/, shared/ and canopy_cli/,
and names no module that is gone: a newcomer finds each file, and what it holds, in one place."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parent.parent
PACKAGES = ("api", "worker", "shared", "canopy_cli")


def layout_section() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("\n## Layout\n")
    end = readme.find("\n## ", start + 1)
    return readme[start:end if end != -1 else len(readme)]


def test_the_layout_names_every_module_and_only_modules_that_exist():
    layout = layout_section()
    modules = {str(path.relative_to(ROOT)) for package in PACKAGES
               for path in (ROOT / package).rglob("*.py")}
    named = set(re.findall(r"`((?:%s)/[\w/]+\.py)`" % "|".join(PACKAGES), layout))
    assert sorted(modules - named) == []  # left out
    assert sorted(named - modules) == []  # gone
