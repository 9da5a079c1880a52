"""The API document against the live API: schemathesis with every check, on both databases.

Bounded by examples per operation and a fixed seed (the same requests each run, so a failure
replays); set CANOPY_SCHEMATHESIS_SEED to explore further."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from tests.fixtures.edits import clip as one_clip, make_edit

CONFIG = Path(__file__).parent.parent / "schemathesis.toml"
SEED = os.environ.get("CANOPY_SCHEMATHESIS_SEED", "20261204")


def test_the_document_says_what_errors_look_like(client):
    spec = client.get("/openapi.json").json
    schemas = spec["components"]["schemas"]
    listed = spec["paths"]["/projects"]["get"]["responses"]
    assert listed["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ValidationErrorOut"}
    assert schemas["ValidationErrorOut"]["properties"]["detail"]["type"] == "array"
    upload = spec["paths"]["/video-file/{video_file_id}/upload-video"]["post"]
    assert {"400", "401", "404", "409", "413", "422"} <= set(upload["responses"])
    form = upload["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["required"] == ["file"] and form["properties"]["file"]["format"] == "binary"
    edit = spec["paths"]["/projects/{project_id}/create-edit"]["post"]["requestBody"]
    assert "video_series_sequential" in edit["content"]["application/json"]["schema"]["required"]
    assert "501" in spec["paths"]["/prompts/generate"]["post"]["responses"]


EDIT = make_edit([one_clip(str(uuid.uuid4()), 0, 1)], resolution="1920x1080")
FORM = "application/x-www-form-urlencoded"


def clip(**changes) -> dict:
    return {**EDIT, "video_series_sequential": [{**EDIT["video_series_sequential"][0], **changes}]}


# What schemathesis found the document allowing and the API refusing, their neighbours, and
# the fields that depend on another: (operation, content type, body, the refused field's
# location or None where both accept).
EDITS = "POST /projects/{project_id}/create-edit"
CASES = {
    "empty resolution": (EDITS, None, {**EDIT, "video_output_resolution": ""},
                         ["body", "video_output_resolution"]),
    "odd resolution": (EDITS, None, {**EDIT, "video_output_resolution": "1921x1080"},
                       ["body", "video_output_resolution"]),
    "empty video_id": (EDITS, None, clip(video_id=""),
                       ["body", "video_series_sequential", 0, "video_id"]),
    "a filename of separators": (EDITS, None, {**EDIT, "video_output_filename": "/\\/"},
                                 ["body", "video_output_filename"]),
    "crf 60 for mp4": (EDITS, None, {**EDIT, "render_options": {"crf": 60}},
                       ["body", "render_options"]),
    "pieces of 1 s": (EDITS, None, {**EDIT, "render_options": {"chunk_seconds": 1}},
                      ["body", "render_options", "chunk_seconds"]),
    "url without a url": ("POST /video-file", None,
                          {"name": "n", "filename": "0", "upload_method": "url"},
                          ["body", "filename"]),
    "url with a user": ("POST /video-file", None,
                        {"name": "n", "filename": "http://u:p@example.com/a.mp4",
                         "upload_method": "url"}, ["body", "filename"]),
    "a file name": ("POST /video-file", None, {"name": "n", "filename": "clip.mp4"}, None),
    "a direct upload": ("POST /video-file", None,
                        {"name": "n", "filename": "clip.mp4", "upload_method": "direct"}, None),
    "limit 43.0": ("POST /video-file/search", None, {"query": "x", "limit": 43.0}, None),
    "limit 43.5": ("POST /video-file/search", None, {"query": "x", "limit": 43.5},
                   ["body", "limit"]),
    "limit true": ("POST /video-file/search", None, {"query": "x", "limit": True},
                   ["body", "limit"]),
    "form prompt_id null": ("POST /projects", FORM,
                            {"name": "p", "description": "d", "prompt_id": None},
                            ["body", "prompt_id"]),
    "form prompt_id blank": ("POST /projects", FORM,
                             {"name": "p", "description": "d", "prompt_id": ""}, None),
}


def document_accepts(spec: dict, operation: str, content: str | None, body) -> bool:
    method, path = operation.split(" ")
    request = spec["paths"][path][method.lower()]["requestBody"]["content"]
    schema = {**request[content or "application/json"]["schema"], "components": spec["components"]}
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER
                                ).is_valid(body)


@pytest.mark.parametrize("case", CASES)
def test_the_document_allows_what_the_api_accepts_and_no_more(client, auth, case):
    operation, content, body, refused = CASES[case]
    spec = client.get("/openapi.json").json
    assert document_accepts(spec, operation, content, body) == (refused is None)
    project = client.post("/projects", json={"name": "c", "description": "d"}, headers=auth)
    method, path = operation.split(" ")
    url = path.format(project_id=project.json["id"])
    # A form has no null: encoders write it as "null" (schemathesis does).
    form = {name: "null" if value is None else value for name, value in body.items()}
    sent = {"data": form} if content == FORM else {"json": body}
    answer = client.open(url, method=method, headers=auth, **sent)
    if refused is None:
        assert answer.status_code < 300, answer.json
    else:
        assert answer.status_code == 422
        assert refused in [error["loc"][:len(refused)] for error in answer.json["detail"]], (
            answer.json)


def test_schemathesis_finds_no_failure(live_server, make_user, tmp_path):
    _, key = make_user()
    run = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG), "--no-color",
         "run", f"{live_server.url}/openapi.json", "--checks", "all", "--max-examples", "5",
         "--seed", SEED, "--header", f"X-API-Key: {key}", "--request-timeout", "30",
         "--report-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    summary = run.stdout[-6000:]
    assert run.returncode == 0, summary
    selected, total = re.search(r"Selected: (\d+)/(\d+)", summary).groups()
    assert selected == total and f"Tested: {total}" in summary, summary
