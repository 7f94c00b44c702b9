"""
Rate limits of the outbound channels, held across every worker.

A channel declares per notification the budgets one send spends (`channels.Limit`:
"30/second" per Telegram bot, "20/minute" per group chat, a webhook host's rate);
`acquire` spends one of each or says how long until it could. A target that answered
"too many requests" pauses its keys (`pause`), and no worker sends through them
before the pause ends.

Budgets and pauses live in Redis (`REDIS_URL`), counted by the `limits` library's
moving window, so they hold across worker processes and machines. While Redis does
not answer, and in the embedded mode without Redis, they are counted in this process
alone: a budget then holds per process, not across them. Delivery degrades, it does
not stop (DESIGN.md: no work depends on Redis being up), as the API's throttles do
(`crisis/throttling.py`).
"""

import functools
import logging
import os
import threading
import time
from collections.abc import Sequence

import limits
import redis
from django.conf import settings
from limits.storage import MemoryStorage, RedisStorage
from limits.strategies import MovingWindowRateLimiter

logger = logging.getLogger(__name__)

PREFIX = "crisis-limits"
# After Redis fails, it is left alone for this long: a dead Redis costs one failed
# attempt per process every few seconds, not one per notification.
SHARED_RETRY_SECONDS = 5.0
# A pause set by another worker is seen within this long (this process's own at once).
PAUSE_CACHE_SECONDS = 0.5
REDIS_TIMEOUT_SECONDS = 0.5


@functools.lru_cache(maxsize=256)
def parse(rate: str) -> limits.RateLimitItem:
    return limits.parse(rate)


class Limiter:
    """Budgets and pauses by key: in Redis, or in this process while Redis is away."""

    def __init__(self, redis_url: str):
        self.local = MovingWindowRateLimiter(MemoryStorage())
        self.prefix = settings.REDIS_KEY_PREFIX + PREFIX
        self.local_pauses: dict[str, float] = {}  # key → until (time.time())
        self.shared = self.client = None
        if redis_url:
            options = {
                "socket_timeout": REDIS_TIMEOUT_SECONDS,
                "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
            }
            storage = RedisStorage(redis_url, key_prefix=self.prefix, **options)
            self.shared, self.client = MovingWindowRateLimiter(storage), storage.storage
        self.shared_down_until = 0.0
        self.seen_pauses: dict[str, tuple[float, float]] = {}  # key → (until, looked at)
        self.lock = threading.Lock()

    # --- Redis, or this process -------------------------------------------------------

    def _shared_up(self) -> bool:
        return self.shared is not None and time.monotonic() >= self.shared_down_until

    def _shared_failed(self, exc: Exception) -> None:
        self.shared_down_until = time.monotonic() + SHARED_RETRY_SECONDS
        logger.warning(
            "rate limits: Redis does not answer (%s); counting per process for %.0f s",
            type(exc).__name__,
            SHARED_RETRY_SECONDS,
        )

    def _strategy(self) -> MovingWindowRateLimiter:
        return self.shared if self._shared_up() else self.local

    # --- Budgets ----------------------------------------------------------------------

    def acquire(self, wanted: Sequence) -> float:
        """
        Spend one send of every limit in `wanted` (`channels.Limit`s) and return 0, or
        return the seconds until all would allow one (then nothing is spent, except
        when another worker took the last one between the check and the spending).
        """
        if not wanted:
            return 0.0
        wait = self.paused_for([limit.key for limit in wanted])
        budgets = [(parse(limit.rate), limit.key) for limit in wanted if limit.rate]
        if wait or not budgets:
            return wait
        try:
            return self._spend(self._strategy(), budgets)
        except (redis.RedisError, limits.errors.StorageError) as exc:
            self._shared_failed(exc)
            return self._spend(self.local, budgets)

    @staticmethod
    def _spend(strategy: MovingWindowRateLimiter, budgets: list) -> float:
        now = time.time()
        waits = [
            strategy.get_window_stats(item, key).reset_time - now
            for item, key in budgets
            if not strategy.test(item, key)
        ]
        if waits:
            return max(0.01, max(waits))
        for item, key in budgets:
            if not strategy.hit(item, key):
                # Taken by another worker since the check: try again in a moment.
                return max(0.01, strategy.get_window_stats(item, key).reset_time - time.time())
        return 0.0

    # --- Pauses -----------------------------------------------------------------------

    def pause(self, keys: Sequence[str], seconds: float) -> None:
        """Send nothing through `keys` for `seconds`, from any worker."""
        if seconds <= 0 or not keys:
            return
        until = time.time() + seconds
        with self.lock:
            for key in keys:
                self.local_pauses[key] = max(until, self.local_pauses.get(key, 0.0))
                self.seen_pauses[key] = (self.local_pauses[key], time.monotonic())
        if self._shared_up():
            try:
                pipe = self.client.pipeline(transaction=False)
                pipe.zremrangebyscore(f"{self.prefix}:pauses", "-inf", time.time())  # the ended ones
                for key in keys:
                    # GT: a shorter pause never shortens a longer one already set.
                    pipe.zadd(f"{self.prefix}:pauses", {key: until}, gt=True)
                pipe.execute()
            except redis.RedisError as exc:
                self._shared_failed(exc)

    def paused_for(self, keys: Sequence[str]) -> float:
        """Seconds until none of `keys` is paused (0: none is)."""
        now, looked_at = time.time(), time.monotonic()
        until = 0.0
        for key in keys:
            until = max(until, self.local_pauses.get(key, 0.0), self._shared_pause(key, looked_at))
        return max(0.0, until - now)

    def _shared_pause(self, key: str, looked_at: float) -> float:
        with self.lock:
            seen = self.seen_pauses.get(key)
        if seen is not None and looked_at - seen[1] < PAUSE_CACHE_SECONDS:
            return seen[0]
        until = 0.0
        if self._shared_up():
            try:
                until = self.client.zscore(f"{self.prefix}:pauses", key) or 0.0
            except redis.RedisError as exc:
                self._shared_failed(exc)
        with self.lock:
            self.seen_pauses[key] = (until, looked_at)
            if len(self.seen_pauses) > 10_000:
                self.seen_pauses.clear()
        return until


@functools.cache
def limiter() -> Limiter:
    """This process's limiter (Redis from `REDIS_URL`)."""
    return Limiter(settings.REDIS_URL)


if hasattr(os, "register_at_fork"):
    # A forked worker opens its own Redis connections and starts with its own counters.
    os.register_at_fork(after_in_child=limiter.cache_clear)
