"""Edits shared with other Canopy users by e-mail.

A collaborator may read the edit, list its collaborators, render it (the render is the
owner's, from the owner's sources) and read its renders; nothing else of the owner's: every
other route keeps answering 404. Only the owner adds and removes collaborators; a removal
holds from the next request on (nothing about it is cached).
"""
from __future__ import annotations

from sqlalchemy import func, select

from shared.errors import CanopyError, NotFound
from shared.models import EditCollaborator, User

from ..auth import Caller
from ..context import get_session
from .edits import owned_edit, shared_edit
from .owned import collaborates

# The same answer for an address no user has and for a deactivated user's: whether an
# address belongs to someone who cannot be added is not told.
NO_SUCH_USER = "No Canopy user can be added with that e-mail"
MAX_COLLABORATORS = 100  # per edit: an edit is shared with a team, not broadcast


def add(user: Caller, project_id, edit_id, email: str) -> tuple[EditCollaborator, User]:
    edit = owned_edit(user, project_id, edit_id)
    session = get_session()
    email = email.strip()
    # Addresses match in any case; where two users' differ only in case, the exact one wins.
    other = session.execute(
        select(User).where(func.lower(User.email) == email.lower(), User.is_active)
        .order_by((User.email == email).desc(), User.created_at).limit(1)
    ).scalar_one_or_none()
    if other is None:
        raise NotFound(NO_SUCH_USER)
    if other.id == user.id:
        raise CanopyError("You own this edit: a collaborator is another user")
    if collaborates(other.id, edit.id):
        raise CanopyError("That user is already a collaborator on this edit")
    shared_with = session.execute(select(func.count()).select_from(EditCollaborator)
                                  .where(EditCollaborator.edit_id == edit.id)).scalar_one()
    if shared_with >= MAX_COLLABORATORS:
        raise CanopyError(f"An edit is shared with at most {MAX_COLLABORATORS} users")
    row = EditCollaborator(edit_id=edit.id, user_id=other.id, added_by=user.id)
    session.add(row)
    session.commit()
    return row, other


def listed(user: Caller, project_id, edit_id) -> list[tuple[EditCollaborator, User]]:
    edit = shared_edit(user, project_id, edit_id)
    return list(get_session().execute(
        select(EditCollaborator, User).join(User, User.id == EditCollaborator.user_id)
        .where(EditCollaborator.edit_id == edit.id).order_by(EditCollaborator.added_at)
    ).all())


def remove(user: Caller, project_id, edit_id, user_id) -> str:
    edit = owned_edit(user, project_id, edit_id)
    session = get_session()
    row = session.get(EditCollaborator, (edit.id, str(user_id)))
    if row is None:
        raise NotFound("Collaborator not found")
    session.delete(row)
    session.commit()
    return row.user_id
