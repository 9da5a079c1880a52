"""The event streams each user holds open, counted over every API process in Redis, so that
one key cannot hold the slots everyone shares (CANOPY_STREAMS_PER_USER).

Each open stream is a member of its user's sorted set, scored with the time its lease ends;
the process holding it renews the leases of all its streams every few seconds, and takes a
member out when the stream ends. A process that dies without saying so frees its users'
slots when their leases run out (`LEASE_SECONDS`). Redis unreachable: streams are not
refused for it (each process's own `max_streams` still holds) and a warning is logged.
"""
from __future__ import annotations

import logging
import time
from typing import Iterable

import redis

log = logging.getLogger(__name__)

LEASE_SECONDS = 60.0
RENEW_SECONDS = 10.0  # well within a lease
KEY = "canopy:streams:{}"

# KEYS[1] the user's set; ARGV: now, the new member's lease end, the cap, the member.
_TAKE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2]) - tonumber(ARGV[1])))
return 1
"""


class StreamQuota:
    QUIET_SECONDS = 30.0

    def __init__(self, redis_url: str, per_user: int):
        self.per_user = per_user  # 0: no cap
        self.redis = redis.Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=2)
        self._take = self.redis.register_script(_TAKE)
        self._last_warning = 0.0

    def take(self, user_id: str, slot: str) -> bool:
        """Count `slot` for the user; False when the user holds `per_user` streams already."""
        if not self.per_user:
            return True
        now = time.time()
        try:
            return bool(self._take(keys=[KEY.format(user_id)],
                                   args=[now, now + LEASE_SECONDS, self.per_user, slot]))
        except (redis.RedisError, OSError) as exc:
            self._warn(exc)
            return True

    def give_back(self, user_id: str, slot: str) -> None:
        if self.per_user:
            self._quietly(lambda: self.redis.zrem(KEY.format(user_id), slot))

    def renew(self, held: Iterable[tuple[str, str]]) -> None:
        """Extend the leases of these (user, slot) pairs, the streams this process holds."""
        held = list(held)
        if not self.per_user or not held:
            return

        def extend():
            until = time.time() + LEASE_SECONDS
            with self.redis.pipeline(transaction=False) as pipe:
                for user_id, slot in held:
                    pipe.zadd(KEY.format(user_id), {slot: until}, xx=True)
                pipe.execute()

        self._quietly(extend)

    def _quietly(self, call) -> None:
        try:
            call()
        except (redis.RedisError, OSError) as exc:
            self._warn(exc)

    def _warn(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._last_warning > self.QUIET_SECONDS:
            self._last_warning = now
            log.warning("could not count event streams on Redis: %s", exc)
