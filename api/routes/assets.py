"""Project assets: `/projects/{id}/asset...` and `/assets/{id}...` endpoints."""
from __future__ import annotations

from flask import Response, request
from flask_openapi3 import APIBlueprint, Tag

from .. import readcache, streams, streams_doc
from ..auth import current_user
from ..body import upload_doc
from ..context import services
from ..multipart import FileUpload
from ..present import asset_out, asset_state, assets_out
from ..paging import page_headers
from ..schemas import (AssetCreate, AssetCreated, AssetList, AssetPageQuery, AssetOut, AssetPath,
                       AssetStatus, Deleted, EventsHeader, ProjectAssetPath)
from ..services import assets as service

bp = APIBlueprint("assets", __name__, abp_tags=[Tag(name="assets")])


@bp.post("/projects/<uuid:project_id>/asset", responses={201: AssetCreated})
def create_asset(path: ProjectAssetPath, body: AssetCreate):
    """Create an asset: an upload slot, a presigned direct upload, or a link to a video file."""
    row, upload = service.create_asset(current_user(), path.project_id, body)
    if upload is None:
        return asset_out(row).model_dump(), 201
    return {"id": row.id, "upload_url": upload}, 201


@bp.post("/assets/<uuid:asset_id>/upload", responses={200: AssetOut},
         openapi_extensions=upload_doc())
def upload(path: AssetPath):
    """Upload the asset's bytes (multipart field `file`); the probe runs in the background."""
    upload = FileUpload.of(request)
    return asset_out(service.upload_asset(current_user(), path.asset_id, upload)).model_dump()


@bp.post("/assets/<uuid:asset_id>/analysis", responses={200: AssetStatus})
def analyse(path: AssetPath):
    """Probe the stored file (again): after a `direct` upload, this tells Canopy it arrived."""
    return asset_state(service.request_analysis(current_user(), path.asset_id)).model_dump()


def _asset_list(path: ProjectAssetPath, query: AssetPageQuery, generated_only: bool = False):
    rows, total = service.list_assets(current_user(), path.project_id, generated_only,
                                      query.limit, query.page)
    body = [a.model_dump() for a in assets_out(rows)]
    if total is None:
        return body
    return body, 200, page_headers(total, query.limit, query.page)


@bp.get("/projects/<uuid:project_id>/asset", responses={200: AssetList})
def list_assets(path: ProjectAssetPath, query: AssetPageQuery):
    """All assets of a project, oldest first, or a page of them (`limit`, `page`: with
    `X-Total-Count` and `Link` headers)."""
    return _asset_list(path, query)


@bp.get("/projects/<uuid:project_id>/assets", responses={200: AssetList})
def list_assets_plural(path: ProjectAssetPath, query: AssetPageQuery):
    """All assets of a project, or a page of them (alias)."""
    return _asset_list(path, query)


@bp.get("/projects/<uuid:project_id>/asset/generated", responses={200: AssetList})
def list_generated(path: ProjectAssetPath, query: AssetPageQuery):
    """Only the project's rendered videos, or a page of them."""
    return _asset_list(path, query, generated_only=True)


@bp.get("/assets/<uuid:asset_id>", responses={200: AssetOut})
def get_asset(path: AssetPath):
    """One asset, with signed links."""
    return polled_asset(path).response()


def polled_asset(path: AssetPath) -> readcache.Answer:
    # Polled in loops: the presented answer is reused while the row's version is unchanged.
    user, asset_id = current_user(), str(path.asset_id)

    def build() -> tuple[readcache.Answer, tuple]:
        asset = service.readable_asset(user, asset_id)
        return readcache.Answer(asset_out(asset).model_dump()), service.version_of(asset)

    return readcache.assets.get_or_build((user.id, asset_id), service.asset_version(user, asset_id),
                                         build)


@bp.get("/assets/<uuid:asset_id>/status", responses={200: AssetStatus})
def status(path: AssetPath):
    """Status, progress and error of an asset."""
    asset = polled_asset(path).data
    return {field: asset[field] for field in AssetStatus.model_fields}


@bp.get("/assets/<uuid:asset_id>/events", responses=streams_doc.RESPONSES,
        openapi_extensions=streams_doc.EXTENSIONS)
def status_events(path: AssetPath, header: EventsHeader):
    """Server-Sent Events of the asset's status: now, then each change; ends when finished.

    Events `status` and `progress` carry the `/status` fields; their `id` is the asset's
    revision (send it back as `Last-Event-ID`); `deleted` ends the stream of a deleted asset.
    204 once the client has the last event. HEAD answers the headers and holds no stream.
    """
    user = current_user()
    if request.method == "HEAD":
        service.owned_asset(user, path.asset_id)
        return Response(status=200, mimetype="text/event-stream", headers=streams.HEADERS)
    last_id = streams.parse_last_event_id(header.last_event_id)
    handoff = streams.HANDOFF in request.environ  # the worker can take it off this thread
    stream = streams.open_stream(services().events, user, path.asset_id, last_id,
                                 threaded=not handoff)
    if stream is None:
        return Response(status=204)
    if handoff:
        request.environ[streams.STREAM] = stream
    # An iterator either way: a list would be sent with a Content-Length, closing the stream.
    response = Response(iter([stream.opening()]) if handoff else iter(stream),
                        mimetype="text/event-stream", headers=streams.HEADERS)
    response.call_on_close(stream.abandon)  # whatever happens to the response, the slot
    return response                          # is freed unless the loop took the stream


@bp.get("/assets/check/<uuid:asset_id>", responses={200: AssetStatus})
def check(path: AssetPath):
    """Status of an asset (the client's `assets.check`)."""
    return status(path)


@bp.delete("/assets/<uuid:asset_id>", responses={200: Deleted})
def delete_asset(path: AssetPath):
    """Delete an asset and its stored objects."""
    return Deleted(id=service.delete_asset(current_user(), path.asset_id)).model_dump()
