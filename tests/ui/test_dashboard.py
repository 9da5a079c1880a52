"""The dashboard in a real browser (Debian's Chromium through Playwright) on the live farm."""
from __future__ import annotations

import json

import av
import pytest
import requests

from tests.fixtures.browser import PHONE, SOURCE_SECONDS, sign_in
from tests.fixtures.edits import clip, make_edit
from tests.fixtures.farm import renders_held, wait_finished
from tests.fixtures.livesrv import ApiCaller

FPS = 30
# Pages whose behaviour is the browser's alone (the API under them is tested on both
# databases) run on SQLite only, to keep the browser tests within their time budget.
BROWSER_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def wait_status(page, *statuses: str, timeout: float = 120) -> str:
    """Wait until the render page shows one of `statuses`; returns the one shown."""
    page.wait_for_function(f"{list(statuses)}.includes(document.querySelector('#render-status')"
                           "?.textContent)", timeout=timeout * 1000)
    return page.inner_text("#render-status")
# Records every value the render page's progress bar takes, with the status shown then.
# (and each upload's bar, by its label).
RECORD_PROGRESS = """
window.progressSeen = [];
window.uploadSeen = [];
new MutationObserver((changes) => {
  for (const change of changes) {
    const value = Number(change.target.getAttribute("aria-valuenow"));
    const label = change.target.getAttribute("aria-label") || "";
    if (label.startsWith("Uploading ")) window.uploadSeen.push([label, value]);
    if (change.target.id !== "render-progress") continue;
    const status = document.querySelector("#render-status");
    window.progressSeen.push([value, status ? status.textContent : ""]);
  }
}).observe(document, { subtree: true, attributes: true, attributeFilter: ["aria-valuenow"] });
"""


def test_sign_in_upload_edit_render_and_play(farm, make_user, open_page, ui_sources):
    _, key = make_user()
    page = open_page()
    page.add_init_script(RECORD_PROGRESS)
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    streams: list[tuple[int, str]] = []
    page.on("response", lambda response: streams.append(
        (response.status, response.headers.get("content-type", "")))
        if response.url.endswith("/events") else None)
    sign_in(page, farm.url, key)

    page.fill("#project-name", "Trailer")
    page.fill("#project-description", "two clips and music")
    page.get_by_role("button", name="Create project").click()
    page.wait_for_selector("h1:text-is('Trailer')")
    page.set_input_files("#file-input", [str(path) for path in ui_sources])
    page.wait_for_function("document.querySelectorAll('#media [data-status=analyzed]').length === 2",
                           timeout=60_000)
    assert page.locator("#uploads li").count() == 0  # every upload finished without an error
    uploads = page.evaluate("window.uploadSeen")
    assert {label for label, value in uploads if value == 100} == {
        f"Uploading {path.name}" for path in ui_sources}, uploads
    # Thumbnails are the probe's pictures, loaded through their signed links.
    page.wait_for_function("[...document.querySelectorAll('#media img.thumb')]"
                           ".filter((img) => img.complete && img.naturalWidth > 0).length === 2")

    # The form: first.mp4 0-3 s, then second.mp4 1-4 s, with first.mp4 as quiet music.
    page.fill("#f-video_series_sequential-0-video_end_time", "3")
    page.click("#add-clip")
    page.select_option("#f-video_series_sequential-1-video_id", label=f"second.mp4 ({SOURCE_SECONDS}.00 s)")
    page.fill("#f-video_series_sequential-1-video_start_time", "1")
    page.fill("#f-video_series_sequential-1-audio_levels-0-audio_level", "0.8")
    page.select_option("#f-audio_overlay-0-audio_id", label=f"first.mp4 ({SOURCE_SECONDS}.00 s)")
    page.fill("#f-audio_overlay-0-audio_levels-0-audio_level", "0.3")
    page.fill("#f-video_output_filename", "trailer")
    page.fill("#f-video_output_resolution", "1280x720")
    page.fill("#f-video_output_fps", str(FPS))
    with renders_held(farm.settings):  # until the page has shown a step under way
        page.click("#render-button")
        page.wait_for_url("**/ui/#/renders/*")
        page.wait_for_function("window.progressSeen.some(([value, status]) => "
                               "status === 'rendering' && value > 0 && value < 100)")
    assert wait_status(page, "uploaded", "failed", "canceled") == "uploaded", page.inner_text("main")
    # The page followed the asset's events stream (fetch, key in its header), not polling.
    assert [(status, kind.split(";")[0]) for status, kind in streams] == [(200, "text/event-stream")]
    assert not any(url.endswith("/status") for url in urls)
    seen = page.evaluate("window.progressSeen")
    values = [value for value, _ in seen]
    assert any(0 < value < 100 for value, status in seen if status == "rendering"), seen
    assert values == sorted(values) and values[-1] == 100, seen

    page.wait_for_function("document.querySelector('#player')?.readyState >= 2", timeout=30_000)
    duration = page.eval_on_selector("#player", "video => video.duration")
    assert abs(duration - 6.0) <= 1 / FPS, duration
    download = page.get_attribute("#download", "href")
    response = requests.get(download, timeout=30)
    assert response.status_code == 200 and response.content[4:8] == b"ftyp"
    assert 'filename="trailer.mp4"' in response.headers["Content-Disposition"]

    assert not any(key in url for url in urls), "the API key appeared in a URL"
    assert page.errors == []


@BROWSER_ONLY
def test_a_422_is_shown_next_to_its_field_at_phone_width(farm, open_page, owner_with_media):
    page = open_page(PHONE)
    sign_in(page, farm.url, owner_with_media["key"], f"#/projects/{owner_with_media['project_id']}")
    page.wait_for_selector("#f-video_series_sequential-0-video_id option:not([value=''])",
                           state="attached")  # the project's sources have been listed
    page.fill("#f-video_series_sequential-0-video_end_time", "9")  # the source has 4 s
    page.click("#render-button")

    end = "#f-video_series_sequential-0-video_end_time"
    page.wait_for_selector(f"{end}-error:not(:empty)")
    assert page.inner_text(f"{end}-error") == "Ends after the end of the source (4.000 s)."
    assert page.get_attribute(end, "aria-invalid") == "true"
    assert page.evaluate("document.activeElement.id") == end[1:]
    assert page.locator(".field-error:not(:empty)").count() == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    # The same edit in the JSON editor: the error names its line.
    page.click("#tab-json")
    text = page.input_value("#edit-json")
    page.click("#render-button")
    page.wait_for_selector("#json-errors li")
    line = next(n for n, row in enumerate(text.split("\n"), 1) if '"video_end_time": 9' in row)
    assert page.inner_text("#json-errors").strip() == (
        f"Line {line} Clip 1 end: ends after the end of the source (4.000 s).")
    assert page.errors == []


def test_a_stored_edit_reopened_rendered_again_and_canceled(farm, open_page, owner_with_media):
    first, second = owner_with_media["assets"]
    clips = [clip(first if i % 2 else second, 0, kind="asset") for i in range(12)]
    clips[0] = clip(owner_with_media["library"], 0)
    edit = make_edit(clips, resolution="1920x1080", filename="long.mp4", skip_rendering=True)
    project_id = owner_with_media["project_id"]
    stored = owner_with_media["api"]("POST", f"/projects/{project_id}/create-edit", json=edit)
    assert stored.json()["asset_id"] is None
    page = open_page()
    sign_in(page, farm.url, owner_with_media["key"], f"#/projects/{project_id}")
    page.get_by_role("button", name="Open long.mp4 in the editor").click()
    assert json.loads(page.input_value("#edit-json")) == edit
    # The form shows its library clip under "Library", the project's under "This project".
    page.click("#tab-form")
    groups = page.eval_on_selector_all(
        "#f-video_series_sequential-0-video_id optgroup",
        "groups => groups.map((g) => [g.label, g.querySelectorAll('option').length])")
    assert groups == [["This project", 2], ["Library", 1]]
    assert page.input_value("#f-video_series_sequential-0-video_id") == owner_with_media["library"]
    assert page.locator("#clips > li").count() == 12

    with renders_held(farm.settings):  # it cannot end before the click, however fast
        page.get_by_role("button", name="Render long.mp4 again").click()
        page.wait_for_url("**/ui/#/renders/*")
        asset_id = page.url.rsplit("/", 1)[1]
        assert wait_status(page, "rendering", "uploading", "uploaded", "failed") == "rendering"
        page.click("#cancel")
        assert wait_status(page, "canceled", "uploaded", "failed", timeout=30) == "canceled"
    assert page.inner_text("#render-says") == "The render was canceled."
    assert page.locator("#player").count() == 0 and not page.is_visible("#cancel")
    assert owner_with_media["api"]("GET", f"/assets/{asset_id}/status").json()["status"] == "canceled"
    assert page.errors == []


def test_another_owners_project_and_render_are_not_found(farm, make_user, open_page):
    owner = ApiCaller(farm.url, make_user()[1])
    project = owner("POST", "/projects", json={"name": "Private", "description": ""}).json()
    asset = owner("POST", f"/projects/{project['id']}/asset", json={"keyname": "a.mp4"}).json()
    page = open_page()
    sign_in(page, farm.url, make_user()[1], f"#/projects/{project['id']}")
    page.wait_for_selector("h1:text-is('Project not found')")
    assert "belongs to another account" in page.inner_text("[role=alert]")
    assert "Private" not in page.inner_text("main")
    page.goto(f"{farm.url}/ui/#/renders/{asset['id']}")
    page.wait_for_selector("h1:text-is('Render not found')")
    assert page.errors == []


@BROWSER_ONLY
def test_sign_in_refuses_a_wrong_key_and_sign_out_forgets_the_key(farm, make_user, open_page):
    _, key = make_user()
    page = open_page()
    page.goto(f"{farm.url}/ui/")
    page.fill("#key", "cnp_not-a-key")
    page.keyboard.press("Enter")
    page.wait_for_selector("#signin-error:not(:empty)")
    assert page.inner_text("#signin-error") == "That API key was not accepted. Check it and try again."

    page.fill("#key", key)
    page.keyboard.press("Enter")
    page.wait_for_selector("h1:text-is('Projects')")
    assert page.evaluate("sessionStorage.getItem('canopy.key')") == key
    page.wait_for_selector("#who:text-matches('@example.com')")

    # By keyboard: the new page's heading has the focus, the header's Sign out is just before it.
    assert page.evaluate("document.activeElement.textContent") == "Projects"
    page.focus("a.skip")  # shown on focus only
    page.keyboard.press("Enter")  # to the content, without leaving the page
    assert page.evaluate("[location.hash, document.activeElement.id]") == ["#/projects", "main"]
    page.focus("h1")
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.activeElement.id") == "sign-out"
    page.keyboard.press("Enter")
    page.wait_for_selector("h1:text-is('Sign in to Canopy')")
    assert page.evaluate("sessionStorage.length") == 0
    assert page.is_hidden("#nav")
    page.goto(f"{farm.url}/ui/#/farm")
    page.wait_for_selector("h1:text-is('Sign in to Canopy')")
    assert page.errors == []


@BROWSER_ONLY
def test_projects_are_paged_created_and_deleted(farm, make_user, open_page):
    _, key = make_user()
    owner = ApiCaller(farm.url, key)
    for n in range(11):
        owner("POST", "/projects", json={"name": f"Project {n:02}", "description": ""})
    page = open_page()
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, farm.url, key)
    page.wait_for_selector("ul.projects")
    assert page.locator("ul.projects > li").count() == 10
    assert page.inner_text(".page-of") == "Page 1 of 2 · 11 projects"
    assert page.locator("ul.projects a.title").first.inner_text() == "Project 10"  # newest first

    page.get_by_role("link", name="Older →").click()
    page.wait_for_selector(".page-of:text('Page 2 of 2')")
    assert page.locator("ul.projects a.title").all_inner_texts() == ["Project 00"]
    page.get_by_role("button", name="Delete project Project 00").click()
    page.wait_for_selector(".page-of:text('Page 1 of 1 · 10 projects')")  # back to the last page
    assert [p["name"] for p in owner("GET", "/projects?limit=100").json()][-1] == "Project 01"

    # The page shown now (…?page=1) is drawn anew for #/projects once its fetch answers: the
    # click waits for that drawing, or it lands on a form about to be replaced.
    page.eval_on_selector("#create-error", "error => error.dataset.drawnBefore = 'yes'")
    page.goto(f"{farm.url}/ui/#/projects")
    page.wait_for_selector("#create-error:not([data-drawn-before])", state="attached")
    page.get_by_role("button", name="Create project").click()  # no name: said so, nothing made
    page.wait_for_selector("#create-error:not(:empty)")
    assert page.inner_text("#create-error") == "Give the project a name."
    assert owner("GET", "/projects").headers["X-Total-Count"] == "10"

    # A project without media: the form says so at the clip's source, without asking the API.
    page.get_by_role("link", name="Project 01").click()
    page.click("#render-button")
    page.wait_for_selector("#f-video_series_sequential-0-video_id-error:not(:empty)")
    assert page.inner_text("#f-video_series_sequential-0-video_id-error") == (
        "Upload media to this project first.")
    assert owner("GET", f"/projects/{page.url.rsplit('/', 1)[1]}/edits").json() == []

    # A file dropped on the zone is uploaded; one that is no media fails with the probe's reason.
    page.evaluate("""() => {
      const files = new DataTransfer();
      files.items.add(new File(["not a video"], "notes.mp4", { type: "video/mp4" }));
      document.querySelector("#drop-zone").dispatchEvent(
        new DragEvent("drop", { dataTransfer: files, bubbles: true, cancelable: true }));
    }""")
    page.wait_for_selector("#media [data-status=failed]")
    assert page.inner_text("#media .title") == "notes.mp4"
    assert page.inner_text("#media .error").startswith("The file could not be read: ")
    assert page.errors == []


def downloaded_size(page, tmp_path, name: str) -> tuple[int, int, int]:
    """The render shown on the page, downloaded and decoded: (width, height, frames)."""
    response = requests.get(page.get_attribute("#download", "href"), timeout=30)
    assert response.status_code == 200
    path = tmp_path / name
    path.write_bytes(response.content)
    with av.open(str(path)) as container:
        frames = [frame for frame in container.decode(video=0)]
    return frames[0].width, frames[0].height, len(frames)


@BROWSER_ONLY
def test_preview_renders_at_half_size_and_plays_while_the_final_renders(
        farm, worker, open_page, owner_with_media, tmp_path):
    page = open_page()
    sign_in(page, farm.url, owner_with_media["key"], f"#/projects/{owner_with_media['project_id']}")
    page.wait_for_selector("#f-video_series_sequential-0-video_id option:not([value=''])",
                           state="attached")
    page.fill("#f-video_series_sequential-0-video_end_time", "1")
    page.fill("#f-video_output_resolution", "320x180")
    page.fill("#f-video_output_fps", str(FPS))
    page.click("#preview-button")

    page.wait_for_url("**/ui/#/renders/*")
    preview_url = page.url
    assert wait_status(page, "uploaded", "failed", "canceled") == "uploaded", page.inner_text("main")
    page.wait_for_selector("#download")
    assert downloaded_size(page, tmp_path, "preview.mp4") == (160, 90, FPS)

    # The final of the same edit, started from the preview's page, shows the preview meanwhile:
    # the worker is held, so the final is still queued whatever the machine's speed.
    with worker.paused():
        page.click("#render-final")
        page.wait_for_function(f"location.href !== {json.dumps(preview_url)}")
        page.wait_for_selector("#preview-player", state="attached")
        assert page.inner_text("#render-status") == "queued"
    assert wait_status(page, "uploaded", "failed", "canceled") == "uploaded", page.inner_text("main")
    page.wait_for_selector("#download")
    assert page.locator("#preview-player").count() == 0  # the final's player replaced it
    assert downloaded_size(page, tmp_path, "final.mp4") == (320, 180, FPS)
    assert page.errors == []


@BROWSER_ONLY
def test_the_render_page_says_how_many_pieces_the_cache_served(farm, open_page, owner_with_media):
    """An edit in pieces, then the same pictures with another level: the first's page says
    every piece was rendered, the second's that every one came from the render cache."""
    api, library = owner_with_media["api"], owner_with_media["library"]

    def rendered(level: float) -> tuple[str, dict]:
        body = make_edit([clip(library, 0, 4, levels=[level]), clip(library, 0.5, 4)],
                         render_options={"chunk_seconds": 2})
        started = api("POST", f"/projects/{owner_with_media['project_id']}/create-edit",
                      json=body)
        assert started.status_code == 200, started.text
        asset_id = started.json()["asset_id"]
        assert wait_finished(api, asset_id)["status"] == "uploaded"
        return asset_id, api("GET", f"/assets/{asset_id}/status").json()["pieces"]

    cold, cold_pieces = rendered(1.0)
    again, again_pieces = rendered(0.5)
    total = cold_pieces["total"]
    assert total > 2 and cold_pieces["reused"] == 0, cold_pieces
    assert again_pieces == {**cold_pieces, "reused": total}
    page = open_page()
    sign_in(page, farm.url, owner_with_media["key"], f"#/renders/{cold}")
    said = f"0 of {total} pieces reused: every piece rendered."
    page.wait_for_selector(f"#render-reused:text-is('{said}')")
    page.goto(f"{farm.url}/ui/#/renders/{again}")
    said = f"{total} of {total} pieces reused from your render cache."
    page.wait_for_selector(f"#render-reused:text-is('{said}')")
    assert page.errors == []


@BROWSER_ONLY
def test_every_page_loads_under_the_enforced_csp(farm, browser, owner_with_media):
    """Without Playwright's CSP bypass: each page's module (pages/*.js) loads and runs with
    scripts, styles and connections from the dashboard's own origin only."""
    context = browser.new_context()
    try:
        page = context.new_page()
        problems = []
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on("console", lambda message: problems.append(message.text)
                if message.type == "error" else None)
        project_id, asset_id = owner_with_media["project_id"], owner_with_media["assets"][0]
        policy = page.goto(f"{farm.url}/ui/").headers["content-security-policy"]
        assert "script-src 'self';" in policy and "unsafe" not in policy
        sign_in(page, farm.url, owner_with_media["key"])
        page.wait_for_selector("ul.projects")
        for hash_, shown in [(f"#/projects/{project_id}", "#media [data-status=analyzed]"),
                             (f"#/renders/{asset_id}", "#render-status"),
                             ("#/farm", "#farm caption"),
                             ("#/farm", "#farm-cache:has-text('Your render cache: ')"),
                             ("#/projects", "ul.projects")]:
            page.goto(f"{farm.url}/ui/{hash_}")
            page.wait_for_selector(shown)
        assert problems == []
    finally:
        context.close()
