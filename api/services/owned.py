"""Owner isolation, the one rule: another owner's row is not found, never forbidden. An
edit's collaborators read that edit and its renders (api/services/collaborators.py)."""
from __future__ import annotations

from sqlalchemy import select

from shared.errors import NotFound
from shared.models import EditCollaborator

from ..auth import Caller
from ..context import get_session


def own_row(model, user: Caller, row_id, options=()):
    """The caller's row of `model` with this id, or None (none such, or another owner's)."""
    row = get_session().get(model, str(row_id), options=options)
    return row if row is not None and row.owner_id == user.id else None


def owned_row(model, user: Caller, row_id, what: str, options=()):
    """The caller's row of `model` with this id, or 404 "`what` not found"."""
    row = own_row(model, user, row_id, options)
    if row is None:
        raise NotFound(f"{what} not found")
    return row


def newest_first(model, **where) -> list:
    """The rows of `model` whose columns equal `where`, newest first."""
    query = select(model).filter_by(**where).order_by(model.created_at.desc())
    return list(get_session().execute(query).scalars())


def collaborates(user_id: str, edit_id: str) -> bool:
    """The edit is shared with the user."""
    return get_session().execute(
        select(EditCollaborator.user_id).where(EditCollaborator.edit_id == edit_id,
                                               EditCollaborator.user_id == user_id)
    ).first() is not None


def readable(user: Caller, row, edit_id: str | None) -> bool:
    """The caller may read `row`: it is theirs, or it belongs to the edit `edit_id` (if any),
    which is shared with them."""
    return row.owner_id == user.id or (edit_id is not None and collaborates(user.id, edit_id))
