"""Browser fixtures: Debian's Chromium driven by Playwright against the live farm."""
from __future__ import annotations

import shutil

import pytest

from tests.livesrv import ApiCaller, wait_for
from tests.mediakit import PALETTE, make_video

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
# Each source is 4 s of 30 fps at 320x180, with its own colours and tone.
SOURCE_SECONDS = 4


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


def sign_in(page, base_url: str, key: str, hash_: str = "") -> None:
    page.goto(f"{base_url}/ui/{hash_}")
    page.fill("#key", key)
    page.keyboard.press("Enter")
    page.wait_for_selector("#nav:not([hidden])")


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


def upload_and_probe(api: ApiCaller, path, slot: tuple[str, dict], send: str, row: str) -> str:
    """POST the `slot` (url, body), send the file to `send`, wait until `row` is analysed.

    `send` and `row` name the new row's id as {id}."""
    made = api("POST", slot[0], json=slot[1]).json()["id"]
    with open(path, "rb") as body:
        sent = api("POST", send.format(id=made), files={"file": (path.name, body, "video/mp4")})
    assert sent.status_code == 200, sent.text
    wait_for(lambda: api("GET", row.format(id=made)).json()["status"] == "analyzed", 60,
             f"probe of {path.name}")
    return made


def upload_asset(api: ApiCaller, project_id: str, path) -> str:
    """Upload a file as a project asset through the API and wait for its probe."""
    return upload_and_probe(api, path, (f"/projects/{project_id}/asset", {"keyname": path.name}),
                            "/assets/{id}/upload", "/assets/{id}")


def upload_library_file(api: ApiCaller, path) -> str:
    """Upload a file to the caller's library (`/video-file`) and wait for its probe."""
    return upload_and_probe(api, path, ("/video-file", {"name": f"library {path.name}",
                                                        "filename": path.name}),
                            "/video-file/{id}/upload-video", "/video-file/{id}")


@pytest.fixture
def owner_with_media(farm, make_user, ui_sources):
    """A user with a project holding the two sources, and the first in the library too,
    uploaded and analysed through the API."""
    _, key = make_user()
    api = ApiCaller(farm.url, key)
    project = api("POST", "/projects", json={"name": "Rushes", "description": "two clips"}).json()
    assets = [upload_asset(api, project["id"], path) for path in ui_sources]
    library = upload_library_file(api, ui_sources[0])
    return {"key": key, "api": api, "project_id": project["id"], "assets": assets,
            "library": library}
