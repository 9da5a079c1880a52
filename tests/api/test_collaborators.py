"""An edit shared with another user: they read it, render it (the owner's render) and read
its renders; nothing else of the owner's, and nothing at all once removed. Over HTTP,
without a worker (tests/farm/test_collaborators.py renders for real)."""
from __future__ import annotations

import uuid

import pytest

from shared.models import User, VideoFile
from shared.states import MediaState
from tests.fixtures.edits import clip, make_edit

def edit_of(video_id: str) -> dict:
    """Stored only; its renders go to the GPU queue, which no test worker serves."""
    return make_edit([clip(video_id, 0, 1)], resolution="64x36", fps=10,
                     filename="shared.mp4", skip_rendering=True, render_options={"encoder": "gpu"})


@pytest.fixture
def shared(client, db, make_user):
    """An owner with a project, an analysed video file, two edits and a render of the second;
    a collaborator on the first edit; and a stranger."""
    owner_id, owner_key = make_user()
    owner = {"X-API-Key": owner_key}
    project = client.post("/projects", json={"name": "p", "description": "d"}, headers=owner).json
    with db.session() as session:
        video = VideoFile(owner_id=owner_id, name="v", filename="v.mp4", media_kind="video",
                          status=MediaState.ANALYZED, duration=2.0, width=64, height=36,
                          video_codec="h264", storage_key=f"{owner_id}/video-files/v.mp4")
        session.add(video)
        session.flush()
        video_id = video.id
    base = f"/projects/{project['id']}"
    first = client.post(f"{base}/create-edit", json=edit_of(video_id), headers=owner).json
    second = client.post(f"{base}/create-edit", json=edit_of(video_id), headers=owner).json
    render = client.post(f"{base}/edits/{second['edit_id']}/render", headers=owner).json
    email = f"Collab-{uuid.uuid4().hex[:8]}@example.com"
    collaborator_id, collaborator_key = make_user(email)
    added = client.post(f"{base}/edits/{first['edit_id']}/collaborators", headers=owner,
                        json={"collaborator_email": email.upper()})  # addresses match in any case
    assert added.status_code == 201, added.json
    assert added.json == {"user_id": collaborator_id, "email": email, "name": email.split("@")[0],
                          "added_at": added.json["added_at"], "added_by": owner_id,
                          "edit_id": first["edit_id"]}
    return {"owner": owner, "owner_id": owner_id, "project": project["id"], "video": video_id,
            "edit": f"{base}/edits/{first['edit_id']}", "other_edit": f"{base}/edits/{second['edit_id']}",
            "other_render": render["asset_id"], "collaborator": {"X-API-Key": collaborator_key},
            "collaborator_id": collaborator_id, "email": email,
            "stranger": {"X-API-Key": make_user()[1]}}


def test_a_collaborator_reads_and_renders_the_edit_and_reads_its_render(client, shared):
    them = shared["collaborator"]
    assert client.get(shared["edit"], headers=them).json["id"] == shared["edit"].rsplit("/", 1)[1]
    listed = client.get(f"{shared['edit']}/collaborators", headers=them)
    assert [c["user_id"] for c in listed.json["collaborators"]] == [shared["collaborator_id"]]

    started = client.post(f"{shared['edit']}/render", headers=them)
    assert started.status_code == 200, started.json
    render = started.json["asset_id"]
    for path in (f"/assets/{render}", f"/assets/{render}/status", f"/assets/check/{render}"):
        assert client.get(path, headers=them).status_code == 200, path
    mine = client.get(f"/projects/{shared['project']}/asset/generated", headers=shared["owner"]).json
    assert render in [a["id"] for a in mine]  # the owner's render
    assert client.get(shared["edit"], headers=them).json["asset_id"] == render
    # reading is all: the render is not the collaborator's to cancel or delete
    assert client.post(f"/assets/{render}/cancel", headers=them).status_code == 404
    assert client.delete(f"/assets/{render}", headers=them).status_code == 404


def test_a_collaborator_reaches_nothing_else_of_the_owners(client, shared):
    them, project = shared["collaborator"], f"/projects/{shared['project']}"
    refused = [
        ("GET", shared["other_edit"]), ("POST", f"{shared['other_edit']}/render"),
        ("GET", f"{shared['other_edit']}/collaborators"),
        ("GET", f"/assets/{shared['other_render']}"),
        ("GET", f"/assets/{shared['other_render']}/status"),
        ("PUT", shared["edit"]), ("GET", project), ("GET", f"{project}/edits"),
        ("GET", f"{project}/asset"), ("GET", f"{project}/scripts"), ("DELETE", project),
        ("GET", f"/video-file/{shared['video']}"), ("GET", f"/video-file/{shared['video']}/analysis"),
        ("POST", f"{shared['edit']}/collaborators"),  # only the owner shares
        ("DELETE", f"{shared['edit']}/collaborators/{shared['collaborator_id']}"),
    ]
    for method, path in refused:
        answer = client.open(path, method=method, headers=them,
                             json=edit_of(shared["video"]) if method == "PUT" else
                             {"collaborator_email": "x@example.com"})
        assert answer.status_code == 404, (method, path, answer.status_code)
    assert client.get("/projects", headers=them).json == []
    assert client.get("/video-file", headers=them).json == []
    # a render of the shared edit uses the owner's sources; an edit of the collaborator's own
    # naming them is refused as unknown
    own = client.post("/projects", json={"name": "mine", "description": "d"}, headers=them).json
    refused = client.post(f"/projects/{own['id']}/create-edit", json=edit_of(shared["video"]),
                          headers=them)
    assert refused.status_code == 422 and refused.json["detail"][0]["msg"] == "unknown video_id"


def test_a_stranger_sees_nothing_of_the_shared_edit(client, shared):
    for path in (shared["edit"], f"{shared['edit']}/collaborators"):
        assert client.get(path, headers=shared["stranger"]).status_code == 404
    assert client.post(f"{shared['edit']}/render", headers=shared["stranger"]).status_code == 404


def test_a_removal_holds_at_once(client, shared):
    them = shared["collaborator"]
    render = client.post(f"{shared['edit']}/render", headers=them).json["asset_id"]
    assert client.get(f"/assets/{render}", headers=them).status_code == 200  # cached answer now
    removed = client.delete(f"{shared['edit']}/collaborators/{shared['collaborator_id']}",
                            headers=shared["owner"])
    assert removed.status_code == 200
    assert removed.json == {"id": shared["collaborator_id"],
                            "edit_id": shared["edit"].rsplit("/", 1)[1], "deleted": True}
    for path in (shared["edit"], f"{shared['edit']}/collaborators", f"/assets/{render}",
                 f"/assets/{render}/status"):
        assert client.get(path, headers=them).status_code == 404, path
    assert client.post(f"{shared['edit']}/render", headers=them).status_code == 404
    again = client.delete(f"{shared['edit']}/collaborators/{shared['collaborator_id']}",
                          headers=shared["owner"])
    assert again.status_code == 404
    assert client.get(f"{shared['edit']}/collaborators", headers=shared["owner"]).json == {
        "collaborators": []}


def test_an_address_no_user_can_be_added_with_is_one_404(client, db, shared, make_user):
    """An unknown address and a deactivated user's answer the same: nothing tells them apart."""
    inactive_id, _ = make_user()
    with db.session() as session:
        user = session.get(User, inactive_id)
        user.is_active, inactive = False, user.email
    answers = [client.post(f"{shared['edit']}/collaborators", headers=shared["owner"],
                           json={"collaborator_email": email})
               for email in (f"nobody-{uuid.uuid4().hex}@example.com", inactive)]
    assert [a.status_code for a in answers] == [404, 404]
    assert answers[0].json == answers[1].json == {
        "detail": "No Canopy user can be added with that e-mail"}


def test_adding_oneself_or_twice_is_a_400(client, db, shared):
    with db.session() as session:
        own = session.get(User, shared["owner_id"]).email
    for email, words in ((own, "You own this edit"), (shared["email"], "already a collaborator")):
        answer = client.post(f"{shared['edit']}/collaborators", headers=shared["owner"],
                             json={"collaborator_email": email})
        assert answer.status_code == 400 and words in answer.json["detail"], answer.json


@pytest.mark.parametrize("body, field", [({}, "collaborator_email"),
                                         ({"collaborator_email": "x" * 400}, "collaborator_email"),
                                         ({"collaborator_email": 5}, "collaborator_email")])
def test_a_bad_address_is_a_422_naming_it(client, shared, body, field):
    answer = client.post(f"{shared['edit']}/collaborators", headers=shared["owner"], json=body)
    assert answer.status_code == 422 and answer.json["detail"][0]["loc"] == ["body", field]


def test_deleting_the_edits_project_ends_the_sharing(client, shared):
    assert client.delete(f"/projects/{shared['project']}", headers=shared["owner"]).status_code == 200
    assert client.get(shared["edit"], headers=shared["collaborator"]).status_code == 404


def test_an_edit_is_shared_with_a_bounded_number_of_users(client, shared, make_user, monkeypatch):
    from api.services import collaborators

    monkeypatch.setattr(collaborators, "MAX_COLLABORATORS", 2)  # one is there already
    emails = [f"team-{uuid.uuid4().hex[:8]}@example.com" for _ in range(2)]
    for email in emails:
        make_user(email)
    answers = [client.post(f"{shared['edit']}/collaborators", headers=shared["owner"],
                           json={"collaborator_email": email}) for email in emails]
    assert [a.status_code for a in answers] == [201, 400]
    assert "at most 2 users" in answers[1].json["detail"]


def test_two_users_whose_addresses_differ_in_case_are_told_apart(client, shared, make_user):
    tag = uuid.uuid4().hex[:8]
    upper_id, _ = make_user(f"Twin-{tag}@example.com")
    lower_id, _ = make_user(f"twin-{tag}@example.com")
    for email, user_id in ((f"twin-{tag}@example.com", lower_id),
                           (f"Twin-{tag}@example.com", upper_id)):
        added = client.post(f"{shared['edit']}/collaborators", headers=shared["owner"],
                            json={"collaborator_email": email})
        assert added.status_code == 201 and added.json["user_id"] == user_id
