"""Every public method of the published `videojungle` client, called against a live farm the
way a user would, in dependency order, each answer read by the client's own models (and
the dict answers by Canopy's response models). A method that should work and does not fails
the test; so does a client bug that stopped happening (a new client release: look again).

The README's compatibility table is what this walk saw: the test compares the two, and
`CANOPY_WRITE_COMPAT_TABLE=1` rewrites the table from the walk.
"""
from __future__ import annotations

import hashlib
import inspect
import os
import uuid
import webbrowser
from dataclasses import dataclass
from importlib.metadata import version

import pytest
import requests
from videojungle import ApiClient, model as vjm

from api.schemas import AnalysisOut, AssetStatus, VideoFileOut
from api.schemas.edits import EditOut, RenderStarted
from shared.config import REPO_ROOT
from shared.states import JobState, MediaState
from tests.fixtures.edits import tiny_edit
from tests.fixtures.farm import FETCH_TEST_HOST, wait_finished
from tests.fixtures.livesrv import serve_directory, wait_for
from tests.fixtures.measure import read_video

CLIENT_VERSION = "0.1.80"
README = REPO_ROOT / "README.md"
BEGIN, END = "<!-- client-table:begin -->", "<!-- client-table:end -->"
GROUPS = ("projects", "video_files", "prompts", "scripts", "assets", "user_account", "edits")
WORKS, PARTLY, NOT_OFFERED, CLIENT_BUG = "works", "works, but", "501", "client bug"


@dataclass
class Seen:
    outcome: str
    note: str


class Walk:
    """Calls methods and records what each did; `seen` is the table's source."""

    def __init__(self):
        self.seen: dict[str, Seen] = {}

    def works(self, method: str, call, note: str = ""):
        try:
            result = call()
        except Exception as exc:  # the point of the walk: name the method that broke
            pytest.fail(f"{method} should work against Canopy, and raised {exc!r}")
        self._record(method, WORKS, note)
        return result

    def not_offered(self, method: str, call) -> None:
        with pytest.raises(requests.HTTPError) as refused:
            call()
        assert refused.value.response.status_code == 501, method
        assert "generative models" in refused.value.response.json()["detail"]
        self._record(method, NOT_OFFERED, "no generative models in Canopy")

    def client_bug(self, method: str, call, raises, match: str, why: str, instead: str,
                   partly: bool = False) -> None:
        """`call` fails in the client's own code as `why` says; `instead` works (the walk
        calls it too)."""
        with pytest.raises(raises, match=match):
            call()
        self._record(method, PARTLY if partly else CLIENT_BUG, f"{why}; instead: {instead}")

    def _record(self, method: str, outcome: str, note: str) -> None:
        known = self.seen.get(method)
        if known is None or known.outcome == WORKS:
            self.seen[method] = Seen(outcome, note or (known.note if known else ""))


def public_methods() -> set[str]:
    client = ApiClient("key")
    return {f"{group}.{name}" for group in GROUPS
            for name, _ in inspect.getmembers(type(getattr(client, group)), inspect.isfunction)
            if not name.startswith("_")}


def table(seen: dict[str, Seen]) -> str:
    counts = {o: sum(1 for s in seen.values() if s.outcome == o)
              for o in (WORKS, PARTLY, NOT_OFFERED, CLIENT_BUG)}
    lines = [f"`videojungle` {CLIENT_VERSION}: {len(seen)} public methods; {counts[WORKS]} work, "
             f"{counts[PARTLY]} work but for one way of calling them (a client bug), "
             f"{counts[NOT_OFFERED]} answer 501, {counts[CLIENT_BUG]} fail in the client's own code.",
             "", "| method | against Canopy | notes |", "|---|---|---|"]
    lines += [f"| `{m}` | {s.outcome} | {s.note} |" for m, s in sorted(seen.items())]
    return "\n".join(lines)


def check_readme(seen: dict[str, Seen]) -> None:
    text = README.read_text()
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    wanted = "\n" + table(seen) + "\n"
    if os.environ.get("CANOPY_WRITE_COMPAT_TABLE") == "1":
        README.write_text(text[:start] + wanted + text[end:])
        return
    assert text[start:end] == wanted, (
        "README's client table differs from what the walk saw; rerun with "
        "CANOPY_WRITE_COMPAT_TABLE=1 to rewrite it:\n" + wanted)


def sha256(path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def test_every_public_client_method_against_canopy(vj, api, make_user, tiny_clip, tmp_path,
                                                   monkeypatch):
    assert version("videojungle") == CLIENT_VERSION
    walk = Walk()
    me = walk.works("user_account.info", vj.user_account.info)
    assert isinstance(me, vjm.User) and "@" in me.email

    ids = walk_prompts_and_projects(walk, vj)
    ids["video"] = walk_video_files(walk, vj, tiny_clip, tmp_path)
    walk_assets(walk, vj, ids, tiny_clip, tmp_path)
    walk_edits(walk, vj, api, ids, tmp_path, monkeypatch)
    walk_collaborators(walk, vj, ids, make_user)
    walk_generation(walk, vj, ids)
    walk_deletions(walk, vj, ids)

    assert set(walk.seen) == public_methods(), "a method the walk does not call, or calls wrongly"
    check_readme(walk.seen)


def walk_prompts_and_projects(walk: Walk, vj) -> dict:
    prompt = walk.works("prompts.create", lambda: vj.prompts.create(
        "A tour of {city}", ["city"], name="tour", persona="guide", task="travel"))
    assert walk.works("prompts.get", lambda: vj.prompts.get(prompt.id)) == prompt
    assert prompt.id in [p.id for p in walk.works("prompts.list", vj.prompts.list)]
    project = walk.works("projects.create", lambda: vj.projects.create(
        "Walk", "every client method", prompt_id=prompt.id))
    assert project.prompts[0]["id"] == prompt.id
    assert walk.works("projects.get", lambda: vj.projects.get(project.id)).id == project.id
    assert project.id in [p.id for p in walk.works("projects.list", vj.projects.list)]
    assert walk.works("projects.update_project_data",
                      lambda: vj.projects.update_project_data(project.id)).name == "Walk"

    assert walk.works("scripts.list_options", vj.scripts.list_options,
                      note="`[]`: Canopy has no script templates") == []
    script = walk.works("scripts.create", lambda: vj.scripts.create(
        project.id, "tour", {"scenes": ["intro"]}, {"city": "text"}),
        note="`inputs` (an object) comes back as `[inputs]`")
    assert script.inputs == [{"city": "text"}]
    assert walk.works("scripts.get", lambda: vj.scripts.get(project.id, script.id)) == script
    assert [s.id for s in walk.works("scripts.list", lambda: vj.scripts.list(project.id))] == [script.id]
    return {"prompt": prompt.id, "project": project.id, "script": script.id}


def walk_video_files(walk: Walk, vj, clip, tmp_path) -> str:
    video = walk.works("video_files.create", lambda: vj.video_files.create("tiny", str(clip)),
                       note="`file-no-chunk` (default), `url` and `direct` all work")
    assert isinstance(video, vjm.VideoFile)
    wait_for(lambda: vj.video_files.get(video.id).current_status == MediaState.ANALYZED, 60,
             "the probe")
    got = walk.works("video_files.get", lambda: vj.video_files.get(video.id))
    assert got.hash == sha256(clip) and got.duration == pytest.approx(1.0, abs=0.05)
    assert video.id in [v.id for v in walk.works("video_files.list", vj.video_files.list)]
    analysis = walk.works("video_files.get_analysis", lambda: vj.video_files.get_analysis(video.id))
    assert AnalysisOut(**analysis).analysis[0]["media_kind"] == "video"
    walk.works("video_files.create_analysis", lambda: vj.video_files.create_analysis(video.id))
    wait_for(lambda: vj.video_files.get(video.id).current_status == MediaState.ANALYZED, 60,
             "the second probe")
    found = walk.works("video_files.search", lambda: vj.video_files.search(query="tiny"))
    assert video.id in [vjm.VideoFile(**v).id for v in found]
    out = tmp_path / "back.mp4"
    assert walk.works("video_files.download", lambda: vj.video_files.download(video.id, str(out)))
    assert sha256(out) == sha256(clip)

    # `direct`: the signed link is the client's to PUT to, which it has no method for; its
    # multipart upload_direct posts to Canopy, which takes the bytes as well.
    direct = walk.works("video_files.create",
                        lambda: vj.video_files.create("direct", clip.name, upload_method="direct"))
    VideoFileOut(**direct)
    with open(clip, "rb") as fh:
        walk.works("video_files.upload_direct", lambda: vj.video_files.upload_direct(direct["id"], fh),
                   note="takes the bytes of any video file (`direct` ones too)")
    wait_for(lambda: vj.video_files.get(direct["id"]).current_status == MediaState.ANALYZED, 60,
             "the direct file's probe")
    with serve_directory(clip.parent, host=FETCH_TEST_HOST) as base:
        fetched = walk.works("video_files.create", lambda: vj.video_files.create(
            "fetched", f"{base}/{clip.name}", upload_method="url"))
        wait_for(lambda: vj.video_files.get(fetched["id"]).current_status == MediaState.ANALYZED,
                 60, "the fetch and probe")
    return video.id


def walk_assets(walk: Walk, vj, ids: dict, clip, tmp_path) -> None:
    project = ids["project"]
    uploaded = walk.works("assets.upload_asset", lambda: vj.assets.upload_asset(
        "clip", "an upload", project, str(clip)))
    ids["asset"] = uploaded.id
    assert walk.works("assets.get", lambda: vj.assets.get(uploaded.id)).keyname == "clip"
    AssetStatus(**walk.works("assets.status", lambda: vj.assets.status(uploaded.id)))
    AssetStatus(**walk.works("assets.check", lambda: vj.assets.check(uploaded.id)))
    linked = walk.works("assets.add_videofile_to_project",
                        lambda: vj.assets.add_videofile_to_project(project, ids["video"]))
    assert linked.asset_type == "video-reference"
    listed = walk.works("assets.list_for_project", lambda: vj.assets.list_for_project(project))
    assert {uploaded.id, linked.id} <= {a.id for a in listed}
    walk.client_bug(
        "assets.upload_asset", lambda: vj.assets.upload_asset("d", "direct", project, str(clip),
                                                               upload_method="direct"),
        requests.HTTPError, "404",
        "with `upload_method=\"direct\"` it joins its base URL to the absolute signed link",
        "the default `file-no-chunk`, or PUT the bytes to the answer's `upload_url.url` and "
        "`POST /assets/{id}/analysis`", partly=True)
    walk.client_bug(
        "assets.add_asset_from_video_file",
        lambda: _raise_if_none(vj.assets.add_asset_from_video_file(ids["video"], project, 0, 1)),
        LookupError, "returned None",
        "a stub in the client (`# TODO`): returns None and sends no request",
        "`assets.add_videofile_to_project`, then trim in the edit's clip")


def _raise_if_none(value):
    if value is None:
        raise LookupError("returned None")
    return value


def walk_edits(walk: Walk, vj, api, ids: dict, tmp_path, monkeypatch) -> None:
    project, video = ids["project"], ids["video"]
    schema = walk.works("edits.get_edit_schema", vj.edits.get_edit_schema)
    assert "video_series_sequential" in schema["properties"]
    started = walk.works("projects.render_edit",
                         lambda: vj.projects.render_edit(project, tiny_edit(video)))
    RenderStarted(**started)
    out = walk.works("assets.download", lambda: vj.assets.download(
        started["asset_id"], str(tmp_path / "render.mp4")))
    assert read_video(out).frames == 10
    generated = walk.works("assets.list_generated_for_project",
                           lambda: vj.assets.list_generated_for_project(project))
    assert [a.id for a in generated] == [started["asset_id"]]

    edit_id = started["edit_id"]
    ids["edit"] = edit_id
    for method, call in (("projects.list_edits", lambda: vj.projects.list_edits(project)),
                         ("edits.list", lambda: vj.edits.list(project))):
        assert [EditOut(**e).id for e in walk.works(method, call)] == [edit_id]
    for method, call in (("projects.get_edit", lambda: vj.projects.get_edit(project, edit_id)),
                         ("edits.get", lambda: vj.edits.get(project, edit_id))):
        assert EditOut(**walk.works(method, call)).status == JobState.UPLOADED
    changed = walk.works("projects.update_edit", lambda: vj.projects.update_edit(
        project, edit_id, tiny_edit(video, video_output_fps=5)))
    assert EditOut(**changed).data["video_output_fps"] == 5
    again = walk.works("edits.render_edit", lambda: vj.edits.render_edit(project, edit_id))
    assert wait_finished(api, RenderStarted(**again).asset_id)["status"] == JobState.UPLOADED

    stored = vj.projects.render_edit(project, tiny_edit(video, skip_rendering=True))["edit_id"]
    fresh = walk.works("edits.download_edit_render", lambda: vj.edits.download_edit_render(
        project, stored, str(tmp_path / "fresh.mp4")))
    assert read_video(fresh).frames == 10
    walk.client_bug(
        "edits.download_edit_render",
        lambda: vj.edits.download_edit_render(project, stored, str(tmp_path / "again.mp4")),
        UnboundLocalError, "url",
        "on an edit that has a finished render it reads an unbound variable (`url`)",
        "`requests.get(edits.get(p, e)[\"download_url\"])`", partly=True)

    edit = vjm.VideoEditCreate(**tiny_edit(video), subtitles=False)
    for method, call in (
            ("projects.create_edit", lambda: vj.projects.create_edit(project, edit)),
            ("edits.create_edit", lambda: vj.edits.create_edit(project, edit)),
            ("edits.create_edit_from_clips", lambda: vj.edits.create_edit_from_clips(
                project, [{"id": video, "start_time": "00:00:00", "end_time": "00:00:01"}]))):
        walk.client_bug(method, call, TypeError, "not JSON serializable",
                        "sends `model_dump()` without `mode=\"json\"`: `requests` cannot "
                        "serialize its UUIDs, and no request is made",
                        "`projects.render_edit(project_id, edit.model_dump(mode=\"json\"))` "
                        "(times it read as numbers come out `\"00:00:01Z\"`: Canopy takes them)")
    RenderStarted(**vj.projects.render_edit(project, edit.model_dump(mode="json") | {
        "skip_rendering": True}))  # the call that works instead

    opened = []
    monkeypatch.setattr(webbrowser, "open", opened.append)
    walk.client_bug(
        "edits.open_in_browser",
        lambda: _raise_if_elsewhere(vj.edits.open_in_browser(project, edit_id), opened),
        LookupError, "app.video-jungle.com",
        "opens Video Jungle's web app (a fixed address), not Canopy's",
        "open `<canopy>/ui/#/projects/<project_id>`, the dashboard's project page")


def _raise_if_elsewhere(_none, opened: list) -> None:
    if opened and opened[0].startswith("https://app.video-jungle.com/"):
        raise LookupError(opened[0])


def walk_collaborators(walk: Walk, vj, ids: dict, make_user) -> None:
    project, edit_id = ids["project"], ids["edit"]
    email = f"walk-{uuid.uuid4().hex[:8]}@example.com"
    make_user(email)
    added = walk.works("projects.add_collaborator",
                       lambda: vj.projects.add_collaborator(project, edit_id, email))
    listed = walk.works("projects.list_collaborators",
                        lambda: vj.projects.list_collaborators(project, edit_id))
    assert [c.user_id for c in listed] == [added["user_id"]]
    removed = walk.works("projects.remove_collaborator",
                         lambda: vj.projects.remove_collaborator(project, edit_id, added["user_id"]))
    assert removed["deleted"] is True


def walk_generation(walk: Walk, vj, ids: dict) -> None:
    project, script = ids["project"], ids["script"]
    walk.not_offered("projects.generate", lambda: vj.projects.generate(project, script, {"city": "Oslo"}))
    walk.not_offered("projects.generate_from_prompt",
                     lambda: vj.projects.generate_from_prompt(project, script, "a tour"))
    walk.not_offered("projects.generate_with_custom_prompt",
                     lambda: vj.projects.generate_with_custom_prompt(project, script, "a tour"))
    walk.not_offered("prompts.generate", lambda: vj.prompts.generate("a tour", ["city"]))


def walk_deletions(walk: Walk, vj, ids: dict) -> None:
    project = ids["project"]
    for method, call in (
            ("scripts.delete", lambda: vj.scripts.delete(project, ids["script"])),
            ("assets.delete", lambda: vj.assets.delete(ids["asset"])),
            ("video_files.delete", lambda: vj.video_files.delete(ids["video"])),
            ("projects.delete", lambda: vj.projects.delete(project)),
            ("prompts.delete", lambda: vj.prompts.delete(ids["prompt"]))):
        assert walk.works(method, call)["deleted"] is True
