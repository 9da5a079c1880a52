"""The API document against the live API: schemathesis with every check, on both databases.

Bounded by examples per operation and a fixed seed (the same requests each run, so a failure
replays); set CANOPY_SCHEMATHESIS_SEED to explore further."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

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
