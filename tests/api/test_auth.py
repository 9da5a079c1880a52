"""API keys: both header forms, 401 for missing or wrong keys, keys hashed at rest."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from shared.models import ApiKey


def test_bearer_and_x_api_key_both_work(client, make_user):
    _, key = make_user()
    assert client.get("/users/me", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    assert client.get("/users/me", headers={"X-API-Key": key}).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer "}, {"Authorization": "Bearer cnp_wrong"}, {"X-API-Key": "nope"},
     {"Authorization": "Basic dXNlcjpwYXNz"}],
)
def test_missing_or_wrong_key_is_401_json(client, headers):
    for path in ("/projects", "/users/me", "/prompts"):
        response = client.get(path, headers=headers)
        assert response.status_code == 401
        assert isinstance(response.json["detail"], str)


def test_keys_are_stored_hashed(db, make_user):
    user_id, key = make_user()
    with db.session() as session:
        stored = session.execute(select(ApiKey).where(ApiKey.user_id == user_id)).scalar_one()
    assert key not in (stored.key_hash, stored.key_prefix)
    assert len(stored.key_hash) == 64


def test_users_me_has_the_client_fields(client, make_user):
    user_id, key = make_user()
    me = client.get("/users/me", headers={"X-API-Key": key}).json
    assert me["id"] == user_id
    assert all(isinstance(me[f], str) for f in ("email", "name", "avatar"))
    assert me["is_active"] is True


def test_public_endpoints_need_no_key(client):
    assert client.get("/health").status_code == 200
    doc = client.get("/openapi.json")
    assert doc.status_code == 200 and "/projects" in doc.json["paths"]
    assert client.get("/docs", follow_redirects=True).status_code == 200


def test_unknown_route_is_json_404(client, auth):
    response = client.get("/no/such/route", headers=auth)
    assert response.status_code == 404
    assert response.json == {"detail": "Not Found"}


def test_key_cache_forgets_after_its_ttl():
    from api.auth import Caller, KeyCache

    caller = Caller(id="id", email="e@x.y", name="n", avatar="", is_verified=True, is_active=True)
    remembering, forgetting = KeyCache(ttl=60), KeyCache(ttl=0)
    remembering.put("digest", caller)
    forgetting.put("digest", caller)
    assert remembering.get("digest") == caller
    assert forgetting.get("digest") is None
    assert remembering.get("other") is None


def test_two_different_keys_in_one_request_are_401(client, make_user):
    _, mine = make_user()
    _, theirs = make_user()
    both = {"Authorization": f"Bearer {mine}", "X-API-Key": theirs}
    for headers in (both, {**both, "X-API-Key": "cnp_not_a_key"}):
        response = client.get("/users/me", headers=headers)
        assert response.status_code == 401 and "Two different API keys" in response.json["detail"]
    same = client.get("/users/me", headers={"Authorization": f"Bearer {mine}", "X-API-Key": mine})
    assert same.status_code == 200
