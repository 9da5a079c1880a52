"""`GET /metrics`: Prometheus's text format, for a bearer of CANOPY_METRICS_TOKEN or, when
no token is set, for clients on loopback only."""
from __future__ import annotations

import hmac
import ipaddress

from flask import Blueprint, Response, request
from prometheus_client import CONTENT_TYPE_LATEST

from ..context import get_settings, services
from ..errors import json_error
from ..metrics import exposition
from ..services.farm_metrics import FarmCollector

bp = Blueprint("metrics", __name__)

# Headers that proxies add (standard, de facto, and the CDNs'): a request with any of them
# came through a proxy, so its loopback address is the proxy's, not the client's.
PROXY_HEADERS = ("Forwarded", "Via", "X-Real-IP", "True-Client-IP", "X-Client-IP",
                 "X-Cluster-Client-IP", "Client-IP", "CF-Connecting-IP", "Fastly-Client-IP",
                 "X-ProxyUser-IP", "X-Original-Forwarded-For", "X-Envoy-External-Address")
PROXY_HEADER_PREFIX = "X-Forwarded-"  # -For, -Host, -Proto, -Port, -Server, -Prefix, ...


def proxied(headers) -> bool:
    """Whether a request says it came through a proxy."""
    return any(name in headers for name in PROXY_HEADERS) or any(
        name.lower().startswith(PROXY_HEADER_PREFIX.lower()) for name in headers.keys())


def refusal(token: str, authorization: str, remote_addr: str | None, forwarded: bool) -> Response | None:
    """Why this scrape is refused, or None. A request that came through a proxy (any of
    PROXY_HEADERS) is not a loopback client, whatever address it comes from."""
    if token:
        scheme, _, presented = authorization.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), token.encode()):
            return None
        return json_error(401, "send 'Authorization: Bearer <CANOPY_METRICS_TOKEN>'",
                          {"WWW-Authenticate": "Bearer"})
    try:
        loopback = ipaddress.ip_address(remote_addr or "").is_loopback
    except ValueError:
        loopback = False
    if loopback and not forwarded:
        return None
    return json_error(403, "metrics are served to loopback clients only: set CANOPY_METRICS_TOKEN")


@bp.get("/metrics")
def metrics():
    """The farm's metrics in the Prometheus text format."""
    refused = refusal(get_settings().metrics_token, request.headers.get("Authorization", ""),
                      request.remote_addr, proxied(request.headers))
    if refused is not None:
        return refused
    body = exposition(FarmCollector(services().db, services().redis))
    return Response(body, mimetype=CONTENT_TYPE_LATEST)
