"""Browser fixtures: Debian's Chromium driven by Playwright against the live farm."""
from __future__ import annotations

import shutil

import pytest

from tests.fixtures.browser import CHROMIUM, CHROMIUM_ARGS, DESKTOP, SOURCE_SECONDS
from tests.fixtures.farm import upload_asset, upload_source
from tests.fixtures.livesrv import ApiCaller
from tests.fixtures.mediakit import PALETTE, make_video

@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the session (`make setup` installs Debian's package)."""
    from playwright.sync_api import sync_playwright

    assert shutil.which("chromium"), "Chromium is missing: run `make setup` (apt-get install chromium)"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def open_page(browser):
    """open_page(viewport=DESKTOP) -> a page in a fresh context (its own sessionStorage)."""
    contexts = []

    def _open(viewport=DESKTOP):
        # Playwright's waits evaluate strings, which the dashboard's CSP forbids to the page.
        context = browser.new_context(viewport=viewport, bypass_csp=True)
        context.set_default_timeout(30_000)
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda error: page.errors.append(error))
        return page

    yield _open
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def ui_sources(tmp_path_factory):
    """Two small videos: red/green/blue/yellow at 440 Hz, and the next colours at 660 Hz."""
    folder = tmp_path_factory.mktemp("ui-media")
    return [
        make_video(folder / "first.mp4", size=(320, 180), fps=30, duration=SOURCE_SECONDS,
                   tone_hz=440, colors_per_second=PALETTE[:4]),
        make_video(folder / "second.mp4", size=(320, 180), fps=30, duration=SOURCE_SECONDS,
                   tone_hz=660, colors_per_second=PALETTE[4:8]),
    ]


@pytest.fixture
def owner_with_media(farm, make_user, ui_sources):
    """A user whose project holds both sources and whose library holds the first, analysed."""
    _, key = make_user()
    api = ApiCaller(farm.url, key)
    project = api("POST", "/projects", json={"name": "Rushes", "description": "two clips"}).json()
    assets = [upload_asset(api, project["id"], path) for path in ui_sources]
    library = upload_source(api, ui_sources[0], f"library {ui_sources[0].name}")
    return {"key": key, "api": api, "project_id": project["id"], "assets": assets,
            "library": library}
