"""
The dead-man's switch: a sweep pings `HEARTBEAT_URL` (e.g. a healthchecks.io check).

The desk cannot page anyone about its own clock when the clock is what died: a dead
worker, a dead beat or an unreachable broker stops the sweeps, so it stops the pings,
and the service at the other end pages someone. The ping runs on a thread of its own
with a short timeout, so it never delays or fails a sweep (the clock's queue must not
wait on the outside world, DESIGN.md "Timers", 7); at most one is in flight per
process, and one per `HEARTBEAT_PING_SECONDS`. The URL is the operator's own, like the
SMTP server: it is configuration, not input, and is called directly.
"""

import logging
import threading
import time

import requests
from django.conf import settings

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 5.0

_state = {"last": None, "in_flight": False}
_lock = threading.Lock()


def ping_soon() -> threading.Thread | None:
    """Start a ping on its own thread if one is due; the thread, or None if none was started."""
    url = settings.HEARTBEAT_URL
    if not url:
        return None
    now = time.monotonic()
    with _lock:
        last = _state["last"]
        if _state["in_flight"] or (last is not None and now - last < settings.HEARTBEAT_PING_SECONDS):
            return None
        _state["last"], _state["in_flight"] = now, True
    thread = threading.Thread(target=_ping, args=(url,), name="heartbeat-ping", daemon=True)
    thread.start()
    return thread


def _ping(url: str) -> None:
    try:
        response = requests.get(url, timeout=TIMEOUT_SECONDS, allow_redirects=False)
        if response.status_code >= 400:
            logger.warning("heartbeat ping answered %s", response.status_code)
    except Exception as exc:  # a ping that failed is logged; the next sweep tries again
        logger.warning("heartbeat ping failed: %s", type(exc).__name__)
        with _lock:
            _state["last"] = None
    finally:
        with _lock:
            _state["in_flight"] = False


def reset() -> None:
    """Forget the last ping (tests)."""
    with _lock:
        _state["last"], _state["in_flight"] = None, False
