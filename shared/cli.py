"""Operator commands: `python -m shared.cli migrate | create-user EMAIL`."""
from __future__ import annotations

import argparse
import sys

from alembic import command
from alembic.config import Config
from sqlalchemy import select

from .config import REPO_ROOT, Settings
from .db import Database
from .models import ApiKey, User, generate_key, hash_key


def alembic_config(database_url: str) -> Config:
    config = Config(str(REPO_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(REPO_ROOT / "migrations"))
    config.attributes["database_url"] = database_url
    return config


def migrate(settings: Settings) -> None:
    """Bring the database schema to the newest migration."""
    Database(settings.database_url).engine.dispose()  # creates the SQLite folder if needed
    command.upgrade(alembic_config(settings.database_url), "head")


def create_user(db: Database, email: str, name: str = "") -> tuple[User, str]:
    """The user with `email` (created if new) and a new API key, returned in clear once."""
    key = generate_key()
    with db.session() as session:
        user = session.execute(select(User).where(User.email == email)).scalar_one_or_none()
        if user is None:
            user = User(email=email, name=name or email.split("@")[0])
            session.add(user)
            session.flush()
        session.add(ApiKey(user_id=user.id, key_hash=hash_key(key), key_prefix=key[:12]))
    return user, key


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply database migrations")
    user = sub.add_parser("create-user", help="create a user (or add a key) and print a new API key")
    user.add_argument("email")
    user.add_argument("--name", default="")
    args = parser.parse_args(argv)

    settings = Settings.from_env()
    if args.command == "migrate":
        migrate(settings)
        print(f"database at head: {settings.database_url}")
        return 0
    if "@" not in args.email:
        parser.error("create-user needs an email address, e.g. make user EMAIL=you@example.com")
    migrate(settings)
    user, key = create_user(Database(settings.database_url), args.email, args.name)
    print(f"user {user.email} ({user.id}); API key (shown once, stored hashed):")
    print(key)
    return 0


if __name__ == "__main__":
    sys.exit(main())
