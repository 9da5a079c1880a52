"""Screenshots of each dashboard page at desktop and phone width, into docs/screenshots/.

    make screenshots        # = .venv/bin/python -m tests.ui.screenshots

Starts a farm of its own (SQLite, local store, one worker), fills it through the API with
sample media and renders (one of them fails for real: a GPU render with no GPU worker times
out in its queue), then photographs the pages in Debian's Chromium.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

from shared.cli import create_user, migrate
from shared.config import REPO_ROOT, Settings
from shared.db import Database
from tests.fixtures.livesrv import ApiCaller, Farm, RedisServer, wait_for
from tests.fixtures.mediakit import PALETTE, make_audio, make_video
from tests.fixtures.browser import CHROMIUM, CHROMIUM_ARGS, DESKTOP, PHONE
from tests.fixtures.edits import clip as cut, make_edit, overlay
from tests.fixtures.farm import upload_asset

OUT = REPO_ROOT / "docs" / "screenshots"
SIZES = {"desktop": {**DESKTOP, "height": 800}, "phone": PHONE}


def clip(asset_id, start, end) -> dict:
    """A clip of a project asset."""
    return cut(asset_id, start, end, kind="asset")


def populate(farm_url: str, keys: list[str], media: Path) -> dict:
    ana, other = ApiCaller(farm_url, keys[0]), ApiCaller(farm_url, keys[1])
    for name, about in [("Interview", "Two cameras, one take"), ("Launch teaser", "15 s for social")]:
        ana("POST", "/projects", json={"name": name, "description": about})
    project = ana("POST", "/projects", json={"name": "Trailer",
                                              "description": "Cut from the rushes, with music"}).json()
    sources = [make_video(media / "beach.mp4", size=(320, 180), duration=6, tone_hz=440,
                          colors_per_second=PALETTE[2:6]),
               make_video(media / "city.mp4", size=(320, 180), duration=6, tone_hz=660,
                          colors_per_second=PALETTE[7:9] + PALETTE[:2]),
               make_audio(media / "music.m4a", duration=12, tone_hz=880)]
    ids = [upload_asset(ana, project["id"], path) for path in sources]
    done = ana("POST", f"/projects/{project['id']}/create-edit", json=make_edit(
        [clip(ids[0], 0, 4), clip(ids[1], 1, 5)], [overlay(ids[2], levels=[0.4])],
        resolution="1280x720", filename="trailer.mp4")).json()
    wait_for(lambda: ana("GET", f"/assets/{done['asset_id']}").json()["status"] == "uploaded", 120,
             "the finished render")
    failed = ana("POST", f"/projects/{project['id']}/create-edit", json=make_edit(
        [clip(ids[0], 0, 2)], resolution="1280x720", filename="gpu-test.mp4",
        render_options={"encoder": "gpu"})).json()
    wait_for(lambda: ana("GET", f"/assets/{failed['asset_id']}").json()["status"] == "failed", 60,
             "the GPU render's queue timeout")
    # Another user's long render, running while the farm page is taken.
    theirs = other("POST", "/projects", json={"name": "Private", "description": ""}).json()
    long_ids = [upload_asset(other, theirs["id"], path) for path in sources[:2]]
    other("POST", f"/projects/{theirs['id']}/create-edit", json=make_edit(
        [clip(long_ids[i % 2], 0, 6) for i in range(20)], resolution="1920x1080",
        filename="their-long-render.mp4"))
    return {"project": project["id"], "done": done["asset_id"], "ids": ids}


def shoot(browser, base: str, key: str, data: dict) -> list[Path]:
    written = []
    for size, viewport in SIZES.items():
        context = browser.new_context(viewport=viewport, bypass_csp=True)
        page = context.new_page()

        def snap(name, full_page=True):
            path = OUT / f"{name}-{size}.png"
            page.screenshot(path=str(path), full_page=full_page, animations="disabled")
            written.append(path)

        page.goto(f"{base}/ui/")
        page.wait_for_selector("#key")
        snap("signin", full_page=False)
        page.fill("#key", key)
        page.keyboard.press("Enter")
        page.wait_for_selector("ul.projects")
        page.wait_for_selector("#who:not(:empty)")
        snap("projects")
        page.goto(f"{base}/ui/#/projects/{data['project']}")
        page.wait_for_function("[...document.querySelectorAll('#media img.thumb')]"
                               ".filter((img) => img.complete && img.naturalWidth > 0).length === 2")
        snap("project")
        # A 422 at its field: the first clip ends after its 6 s source.
        page.fill("#f-video_series_sequential-0-video_end_time", "8")
        page.click("#render-button")
        page.wait_for_selector("#f-video_series_sequential-0-video_end_time-error:not(:empty)")
        page.locator("#edit-form").screenshot(path=str(OUT / f"edit-error-{size}.png"),
                                               animations="disabled")
        written.append(OUT / f"edit-error-{size}.png")
        page.goto(f"{base}/ui/#/renders/{data['done']}")
        page.wait_for_function("document.querySelector('#player')?.readyState >= 2")
        snap("render")
        page.goto(f"{base}/ui/#/farm")
        page.wait_for_selector("#farm table")
        page.wait_for_function("document.querySelectorAll('#farm [role=progressbar]').length > 0"
                               " && [...document.querySelectorAll('#farm [role=progressbar]')]"
                               ".some((bar) => Number(bar.getAttribute('aria-valuenow')) > 0)",
                               timeout=60_000)
        snap("farm")
        context.close()
    return written


def main() -> None:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = f"sqlite:///{folder / 'canopy.db'}"
        migrate(Settings(database_url=url))
        redis = RedisServer(folder)
        redis.start()
        settings = Settings(database_url=url, redis_url=redis.url,
                            storage_url=f"file://{folder / 'objects'}", secret_key="screenshots",
                            cache_dir=str(folder / "cache"), queue_timeout_seconds=3,
                            reap_interval_seconds=1)
        farm = Farm(settings, folder, redis).start(workers=1)
        try:
            db = Database(url)
            keys = [create_user(db, email)[1] for email in ("ana@example.com", "sam@example.com")]
            db.dispose()
            media = folder / "media"
            media.mkdir()
            data = populate(farm.url, keys, media)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                started = time.monotonic()
                written = shoot(browser, farm.url, keys[0], data)
                browser.close()
            for path in written:
                print(f"{path.relative_to(REPO_ROOT)}  {path.stat().st_size // 1024} KiB")
            print(f"{len(written)} screenshots in {time.monotonic() - started:.1f} s")
        finally:
            farm.stop()


if __name__ == "__main__":
    main()
