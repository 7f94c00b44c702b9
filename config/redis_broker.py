"""
kombu's Redis transport, made to survive Redis going away while a worker holds messages.

celery 5.7.0 closes the consumer's connection a second time after a connection
error (celery/celery#10242). kombu 5.7.0's `Channel.close()` first reads the
reply of the pending BRPOP; with Redis gone that raises a connection error
before the channel is marked closed, so the second close runs the whole close
again, after `Connection.collect()` has cleared `transport.client`. Restoring
the channel's unacknowledged messages (the ETA tasks a worker holds, an
`acks_late` task running) then fails with `AttributeError: 'NoneType' object
has no attribute 'hostname'`, which is not a connection error: the worker logs
"Unrecoverable error" and exits for good. Here a connection error while draining
that reply ends the drain (the reply is lost with the connection), so the first
close completes and the second is a no-op. Research and reproduction:
docs/operations.md, "When a dependency goes away".

`AMQP` gives the Celery app a `Connection` whose reconnect backoff is capped at
`RECONNECT_INTERVAL_MAX` seconds instead of kombu's 30: the consumer and beat
reconnect through `ensure_connection()` with kombu's defaults (no Celery setting
changes them), so after a long outage they would find Redis back only up to 30 s
late, and escalations with them.
"""

from queue import Empty

from celery.app import amqp
from kombu import Connection as KombuConnection
from kombu.transport import redis

RECONNECT_INTERVAL_START = 1.0
RECONNECT_INTERVAL_STEP = 1.0
RECONNECT_INTERVAL_MAX = 2.0


class Channel(redis.Channel):
    def close(self):
        if self._in_poll:
            try:
                self._brpop_read()
            except Empty:
                pass
            except self.connection_errors:
                # The reply went with the connection: nothing left to drain.
                self._in_poll = None
        super().close()


class Transport(redis.Transport):
    Channel = Channel


class Connection(KombuConnection):
    def _ensure_connection(
        self,
        errback=None,
        max_retries=None,
        interval_start=RECONNECT_INTERVAL_START,
        interval_step=RECONNECT_INTERVAL_STEP,
        interval_max=RECONNECT_INTERVAL_MAX,
        **kwargs,
    ):
        # Only the defaults change: publishers that pass their own intervals
        # (the transport options in settings) keep them.
        return super()._ensure_connection(
            errback, max_retries, interval_start, interval_step, interval_max, **kwargs
        )


class AMQP(amqp.AMQP):
    Connection = Connection
