"""The video-file library: `/video-file` endpoints."""
from __future__ import annotations

from flask import request
from flask_openapi3 import APIBlueprint, Tag

from ..auth import current_user
from ..body import upload_doc
from ..multipart import FileUpload
from ..present import video_file_out
from ..schemas import (AnalysisOut, Deleted, VideoFileCreate, VideoFileList, VideoFileOut, VideoFilePath,
                       VideoFileQuery, VideoSearch)
from ..services import video_files as service

bp = APIBlueprint("video_files", __name__, url_prefix="/video-file", abp_tags=[Tag(name="video files")])


@bp.post("", responses={201: VideoFileOut})
def create_video_file(body: VideoFileCreate):
    """Create a video file; its fields come at top level and again under `video`."""
    row, upload_url = service.create_video_file(current_user(), body)
    out = video_file_out(row).model_dump()
    return {**out, "video": out, "upload_url": upload_url}, 201


@bp.post("/<uuid:video_file_id>/upload-video", responses={200: VideoFileOut},
         openapi_extensions=upload_doc())
def upload_video(path: VideoFilePath):
    """Upload the bytes (multipart field `file`); the probe runs in the background."""
    upload = FileUpload.of(request)
    return video_file_out(service.upload_video(current_user(), path.video_file_id, upload)).model_dump()


@bp.post("/<uuid:video_file_id>/analysis", responses={200: AnalysisOut})
def run_analysis(path: VideoFilePath):
    """Probe the stored file (again)."""
    row = service.request_analysis(current_user(), path.video_file_id)
    return {"id": row.id, "status": row.status, "analysis": list(row.analysis or [])}


@bp.get("/<uuid:video_file_id>/analysis", responses={200: AnalysisOut})
def get_analysis(path: VideoFilePath):
    """The probe's findings."""
    row = service.owned_video_file(current_user(), path.video_file_id)
    return {"id": row.id, "status": row.status, "error": row.error,
            "analysis": list(row.analysis or [])}


@bp.get("", responses={200: VideoFileList})
def list_video_files(query: VideoFileQuery):
    """The caller's video files, newest first; `?sha256=` finds a file by its content."""
    rows = service.list_video_files(current_user(), sha256=query.sha256)
    return [video_file_out(r).model_dump() for r in rows]


@bp.get("/<uuid:video_file_id>", responses={200: VideoFileOut})
def get_video_file(path: VideoFilePath):
    """One video file."""
    return video_file_out(service.owned_video_file(current_user(), path.video_file_id)).model_dump()


@bp.delete("/<uuid:video_file_id>", responses={200: Deleted})
def delete_video_file(path: VideoFilePath):
    """Delete a video file and its stored objects."""
    return Deleted(id=service.delete_video_file(current_user(), path.video_file_id)).model_dump()


@bp.post("/search", responses={200: VideoFileList})
def search(body: VideoSearch):
    """Text match on name/description/filename, with duration, date and tag filters."""
    rows = service.search_video_files(current_user(), body)
    return [video_file_out(r).model_dump() for r in rows]
