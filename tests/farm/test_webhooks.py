"""Webhooks against the live farm: signed the Standard Webhooks way, retried, recorded."""
from __future__ import annotations

import socket

import pytest
import requests
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from tests.fixtures.edits import tiny_edit
from tests.fixtures.farm import FETCH_TEST_HOST, WEBHOOK_TEST_BACKOFF, moved, new_project, scrape, submit, wait_finished
from tests.fixtures.livesrv import ApiCaller, Receiver, wait_for


def deliveries_when(api, asset_id, state) -> list[dict]:
    def settled():
        found = api("GET", f"/assets/{asset_id}/webhooks").json()
        return found if found and found[0]["state"] == state else None

    return wait_for(settled, 30, f"the webhook of {asset_id} to be {state}", interval=0.1)


def test_a_signed_webhook_is_retried_until_the_receiver_takes_it(api, tiny_source, farm, make_user):
    secret = api("GET", "/users/me/webhook-secret").json()["secret"]
    before = scrape(farm.url)
    with Receiver(FETCH_TEST_HOST, statuses=[500, 500, 200]) as receiver:
        started = submit(api, tiny_edit(tiny_source, callback_url=receiver.url))
        assert wait_finished(api, started["asset_id"])["status"] == "uploaded"
        [delivery] = deliveries_when(api, started["asset_id"], "delivered")
    assert len(receiver.received) == 3  # two 500s, then the third try is taken
    assert (delivery["tries"], delivery["status_code"], delivery["last_error"]) == (3, 200, None)
    assert delivery["event_status"] == "uploaded" and delivery["url"] == receiver.url
    assert moved(before, scrape(farm.url), "canopy_webhooks", state="delivered") == 1

    payloads = [Webhook(secret).verify(body, headers) for headers, body in receiver.received]
    assert {headers["webhook-id"] for headers, _ in receiver.received} == {delivery["id"]}
    payload = payloads[-1]
    assert (payload["asset_id"], payload["edit_id"], payload["status"], payload["error"]) == (
        started["asset_id"], started["edit_id"], "uploaded", None)
    video = requests.get(payload["download_url"], timeout=30)
    assert video.status_code == 200 and video.content[4:8] == b"ftyp"
    headers, body = receiver.received[-1]
    with pytest.raises(WebhookVerificationError):  # signed with this user's secret only
        Webhook(api("POST", "/users/me/webhook-secret/rotate").json()["secret"]).verify(body, headers)

    stranger = ApiCaller(farm.url, make_user()[1])
    assert stranger("GET", f"/assets/{started['asset_id']}/webhooks").status_code == 404


def test_a_receiver_that_is_down_leaves_the_render_uploaded(api, tiny_source):
    with socket.socket() as probe:  # a port on which nobody listens
        probe.bind((FETCH_TEST_HOST, 0))
        port = probe.getsockname()[1]
    started = submit(api, tiny_edit(tiny_source, callback_url=f"http://{FETCH_TEST_HOST}:{port}/x"))
    [delivery] = deliveries_when(api, started["asset_id"], "failed")
    assert delivery["tries"] == len(WEBHOOK_TEST_BACKOFF) + 1 and delivery["status_code"] is None
    assert "refused" in delivery["last_error"].lower(), delivery
    assert api("GET", f"/assets/{started['asset_id']}").json()["status"] == "uploaded"


def test_canceling_a_queued_render_calls_back(api, tiny_source):
    from worker.render import gpu_available

    if gpu_available():
        pytest.skip("the test worker consumes render.gpu here: no render stays queued")
    secret = api("GET", "/users/me/webhook-secret").json()["secret"]
    with Receiver(FETCH_TEST_HOST) as receiver:
        started = submit(api, tiny_edit(tiny_source, callback_url=receiver.url,
                                        render_options={"encoder": "gpu"}))
        assert api("POST", f"/assets/{started['asset_id']}/cancel").json()["status"] == "canceled"
        deliveries_when(api, started["asset_id"], "delivered")
    [(headers, body)] = receiver.received
    assert Webhook(secret).verify(body, headers)["status"] == "canceled"


@pytest.mark.parametrize("url, reason", [
    ("http://10.0.0.8/hook", "private"), ("http://127.0.0.1:6379/", "loopback"),
    ("http://[::1]/hook", "loopback"), ("ftp://example.com/hook", "http"),
])
def test_a_callback_url_the_fetch_guard_refuses_is_a_422(api, tiny_source, url, reason):
    response = api("POST", f"/projects/{new_project(api)}/create-edit",
                   json=tiny_edit(tiny_source, callback_url=url))
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "callback_url"] and reason in error["msg"], error


def test_the_webhook_secret_rotates(api):
    first = api("GET", "/users/me/webhook-secret").json()["secret"]
    assert first.startswith("whsec_") and api("GET", "/users/me/webhook-secret").json()["secret"] == first
    rotated = api("POST", "/users/me/webhook-secret/rotate").json()["secret"]
    assert rotated.startswith("whsec_") and rotated != first
    assert api("GET", "/users/me/webhook-secret").json()["secret"] == rotated
