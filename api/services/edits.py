"""Edits and renders: validate against the caller's media, store, queue a render job."""
from __future__ import annotations

from sqlalchemy import select

from shared import keys
from shared.edit import VideoEdit, parse_edit
from shared.edit_sources import EditSourceError, check_sources
from shared.errors import Conflict, NotFound, Unprocessable
from shared.jobs import request_cancel
from shared.models import GENERATED_VIDEO, Asset, Edit, Project, RenderJob, User, utcnow
from shared.queue import RENDER_CPU_QUEUE, RENDER_GPU_QUEUE, RENDER_TASK, send
from shared.sources import find_sources, misnamed, not_ready, ready, source_info
from shared.states import JobState

from ..auth import Caller, caller_of
from ..context import get_session, get_settings, get_storage, services
from .assets import owned_asset
from .owned import newest_first, readable
from .projects import owned_project
from .waiting import settle_renders
from .webhooks import check_callback


def validate_edit(data) -> tuple[dict, VideoEdit, list[str]]:
    """The edit JSON a request carried, validated (422 naming `body.<field path>`)."""
    if not isinstance(data, dict):
        raise Unprocessable.field(("body",), "the edit must be a JSON object")
    edit, warnings = parse_edit(data)  # ValidationError → 422 via api.errors
    return data, edit, warnings


def check_against_media(user: Caller, edit: VideoEdit) -> tuple[list[str], bool]:
    """The edit's warnings, and whether a render must wait: a source still being analysed
    is accepted (checked once analysed); unknown, unuploaded or failed sources are a 422."""
    rows = find_sources(get_session(), user.id, edit)
    known = {media_id: row for media_id, row in rows.items() if row is not None}  # else unknown
    refused = {i: why for i, row in known.items() if (why := not_ready(i, row))}
    pending = {i for i, row in known.items() if not ready(row) and i not in refused}
    errors = [{"loc": ["body", *use.loc], "msg": refused[use.id], "type": "value_error.source"}
              for use in edit.source_uses() if use.id in refused]
    mistyped = _mistyped(user, edit, rows)
    errors += mistyped.values()
    infos = {media_id: source_info(row) for media_id, row in known.items() if ready(row)}
    try:
        warnings = check_sources(edit, infos, get_settings().max_output_seconds,
                                 pending=pending | refused.keys() | mistyped.keys())
    except EditSourceError as exc:
        errors += [{**e, "loc": ["body", *e["loc"]]} for e in exc.errors]
    if errors:
        raise Unprocessable(errors)
    return warnings, bool(pending)


KINDS = {"asset": "an asset (an upload or a render)", "videofile": "a video file"}


def _mistyped(user: Caller, edit: VideoEdit, rows: dict) -> dict[str, dict]:
    """{id: its 422} for each clip whose id names the caller's media of the other kind (a
    render named as a `videofile`): the message says which `type` finds it."""
    errors = {}
    for use in edit.source_uses():
        right = rows.get(use.id) is None and misnamed(get_session(), user.id, use.id, use.type)
        if right and use.id not in errors:
            errors[use.id] = {
                "loc": ["body", *use.loc[:-1], "type"], "type": "value_error.source_type",
                "msg": f"{use.id} is {KINDS[right]}, not {KINDS.get(use.type, use.type)}: "
                       f'name it with type "{right}"'}
    return errors


def owned_edit(user: Caller, project_id, edit_id) -> Edit:
    project = owned_project(user, project_id)
    edit = get_session().get(Edit, str(edit_id))
    if edit is None or edit.project_id != project.id:
        raise NotFound("Edit not found")
    return edit


def shared_edit(user: Caller, project_id, edit_id) -> Edit:
    """The edit, if the caller owns it or collaborates on it; else 404."""
    edit = get_session().get(Edit, str(edit_id))
    if edit is None or edit.project_id != str(project_id) or not readable(user, edit, edit.id):
        raise NotFound("Edit not found")
    return edit


def acting_owner(user: Caller, edit: Edit) -> Caller:
    """Who a render of the edit belongs to: its owner, whoever asks for it."""
    if edit.owner_id == user.id:
        return user
    return caller_of(get_session().get(User, edit.owner_id))


def create_edit(user: Caller, project_id, body) -> tuple[Edit, Asset | None]:
    project = owned_project(user, project_id)
    data, parsed, warnings = validate_edit(body)
    more, wait = check_against_media(user, parsed)
    check_callback(parsed)
    edit = Edit(owner_id=user.id, project_id=project.id, name=parsed.name,
                description=parsed.description, data=data, warnings=warnings + more)
    session = get_session()
    session.add(edit)
    session.flush()
    if parsed.skip_rendering:
        session.commit()
        return edit, None
    return edit, start_render(user, project, edit, parsed, wait)


def update_edit(user: Caller, project_id, edit_id, body) -> Edit:
    edit = owned_edit(user, project_id, edit_id)
    data, parsed, warnings = validate_edit(body)
    warnings += check_against_media(user, parsed)[0]
    check_callback(parsed)
    edit.data, edit.name, edit.description, edit.warnings = data, parsed.name, parsed.description, warnings
    edit.updated_at = utcnow()
    get_session().commit()
    return edit


def render_edit(user: Caller, project_id, edit_id) -> tuple[Edit, Asset]:
    """A new render of the edit, by its owner or a collaborator: the owner's, either way."""
    edit = shared_edit(user, project_id, edit_id)
    owner = acting_owner(user, edit)
    parsed, _ = parse_edit(edit.data)
    _, wait = check_against_media(owner, parsed)  # a source may have been deleted since
    check_callback(parsed)  # its host may resolve elsewhere now
    return edit, start_render(owner, edit_project(edit), edit, parsed, wait)


def edit_project(edit: Edit) -> Project:
    return get_session().get(Project, edit.project_id)


def render_queue(parsed: VideoEdit) -> str:
    encoder = parsed.encoder if parsed.encoder != "auto" else get_settings().encoder
    return RENDER_GPU_QUEUE if encoder == "gpu" else RENDER_CPU_QUEUE


def start_render(user: Caller, project: Project, edit: Edit, parsed: VideoEdit,
                 wait: bool) -> Asset:
    """Asset `generated_video` (queued) + RenderJob, committed, then the task sent by name.

    With `wait` (a source is still being analysed) the job waits; the end of the analysis
    sends it. An analysis that ended before the job was committed is seen here instead."""
    session = get_session()
    filename = parsed.video_output_filename
    asset = Asset(owner_id=user.id, project_id=project.id, keyname=filename, filename=filename,
                  asset_type=GENERATED_VIDEO, status=JobState.QUEUED, edit_id=edit.id,
                  description=parsed.description, warnings=list(edit.warnings or []),
                  create_parameters={"edit_id": edit.id})
    session.add(asset)
    session.flush()
    job = RenderJob(owner_id=user.id, asset_id=asset.id, edit_id=edit.id, edit_data=edit.data,
                    queue=render_queue(parsed), enqueued_at=utcnow(),
                    state=JobState.WAITING if wait else JobState.QUEUED)
    session.add(job)
    edit.asset_id = asset.id
    session.commit()
    if wait:
        settle_renders(user.id)
    else:
        send(services().celery, RENDER_TASK, [job.id], job.queue)
    return asset


def list_edits(user: Caller, project_id) -> list[Edit]:
    return newest_first(Edit, project_id=owned_project(user, project_id).id)


RenderState = tuple[str | None, Asset | None]


def render_states(edits: list[Edit]) -> dict[str, RenderState]:
    """Per edit: the status of its latest render, and its newest render that reached
    `uploaded`. One query for any number of edits."""
    ids = [edit.id for edit in edits]
    renders = get_session().execute(
        select(Asset).where(Asset.edit_id.in_(ids)).order_by(Asset.created_at)
    ).scalars() if ids else []
    latest: dict[str, Asset] = {}
    finished: dict[str, Asset] = {}
    for asset in renders:  # oldest first: later ones overwrite
        latest[asset.id] = asset
        if asset.uploaded:
            finished[asset.edit_id] = asset
    return {
        edit.id: (latest[edit.asset_id].status if edit.asset_id in latest else None,
                  finished.get(edit.id))
        for edit in edits
    }


def cancel_render(user: Caller, asset_id) -> Asset:
    asset = owned_asset(user, asset_id)
    session = get_session()
    job = session.execute(select(RenderJob).where(RenderJob.asset_id == asset.id)).scalar_one_or_none()
    if job is None:
        raise Conflict("only a render can be canceled; this asset is not one")
    state = request_cancel(session, job.id)
    if state in (JobState.UPLOADED, JobState.FAILED):
        raise Conflict(f"too late to cancel: the render already ended {state}")
    if state == JobState.CANCELED and job.plan is not None:
        # A render in pieces: its stored pieces (a piece stored later removes its own).
        get_storage().delete_prefix(keys.pieces_folder(asset))
    session.refresh(asset)
    return asset
