"""Database.read_one: the poll path's single-statement reads, without a Session."""
from __future__ import annotations

from sqlalchemy import bindparam, create_engine, select, text, update

from shared.db import Database
from shared.models import Project
from tests.fixtures.database import PG_ADMIN_URL, postgres_database


def test_read_one_sees_each_committed_write_at_once(db, make_user):
    user_id, _ = make_user()
    with db.session() as session:
        project = Project(owner_id=user_id, name="before", description="d")
        session.add(project)
        session.flush()
        project_id = project.id
    by_id = select(Project.name).where(Project.id == bindparam("project_id"))
    assert db.read_one(by_id, project_id=project_id) == ("before",)
    for name in ("one", "two", "three"):  # no snapshot kept between reads
        with db.session() as session:
            session.execute(update(Project).where(Project.id == project_id)
                            .values(name=name))
        assert db.read_one(by_id, project_id=project_id) == (name,)
    assert db.read_one(by_id, project_id="no-such-project") is None


def test_a_connection_the_server_dropped_is_replaced():
    """PostgreSQL ends a backend (a restart or an idle timeout does the same): the next read
    fails on the dead connection, then succeeds on a new one, without an error to the caller."""
    with postgres_database() as url:
        db = Database(url)
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        try:
            first = db.read_one(text("SELECT pg_backend_pid()"))[0]
            with admin.connect() as conn:
                ended = conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
                assert ended.scalar() is True
            second = db.read_one(text("SELECT pg_backend_pid()"))[0]
            assert second != first
        finally:
            admin.dispose()
            db.dispose()
