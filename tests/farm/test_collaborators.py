"""An edit shared through the published client: the collaborator renders it and downloads
the render (the owner's), until the owner removes them."""
from __future__ import annotations

import uuid

import pytest
import requests
from videojungle import ApiClient
from videojungle.model import Collaborator

from shared.states import JobState
from tests.fixtures.edits import tiny_edit
from tests.fixtures.farm import wait_finished
from tests.fixtures.measure import read_video


def test_a_collaborator_renders_the_shared_edit_and_downloads_it(vj, api, tiny_source, make_user,
                                                                tmp_path):
    email = f"collab-{uuid.uuid4().hex[:8]}@example.com"
    them = ApiClient(make_user(email)[1])  # BASE_URL: the farm's, set by the `vj` fixture
    project = vj.projects.create("Shared", "an edit shared by e-mail")
    edit_id = vj.projects.render_edit(project.id, tiny_edit(tiny_source, skip_rendering=True))["edit_id"]
    added = vj.projects.add_collaborator(project.id, edit_id, email)
    assert added["email"] == email

    listed = them.projects.list_collaborators(project.id, edit_id)
    assert [c.email for c in listed] == [email] and isinstance(listed[0], Collaborator)
    assert them.edits.get(project.id, edit_id)["data"]["video_output_filename"] == "tiny.mp4"
    render = them.edits.render_edit(project.id, edit_id)["asset_id"]
    assert wait_finished(api, render)["status"] == JobState.UPLOADED  # the owner sees it
    out = them.assets.download(render, str(tmp_path / "theirs.mp4"))
    assert read_video(out).frames == 10
    assert render in [a.id for a in vj.assets.list_generated_for_project(project.id)]

    assert vj.projects.remove_collaborator(project.id, edit_id, listed[0].user_id)["deleted"]
    for call in (lambda: them.edits.get(project.id, edit_id), lambda: them.assets.get(render)):
        with pytest.raises(requests.HTTPError) as gone:
            call()
        assert gone.value.response.status_code == 404
