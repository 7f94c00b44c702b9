"""
The outbox at the speed of real channels (issue 19): reused connections, parallel
delivery within limits, set-wise bookkeeping.

Against real local servers: an SMTP server (aiosmtpd, `bench/smtp_sink.py`) that
counts the connections it is opened and records each message by its idempotency key,
and HTTP receivers that count theirs. Delivery is driven here the way the worker's task
drives it (`delivery.deliver_batch` over the ids one transaction wrote).
"""

import itertools
import threading
import time
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from bench.smtp_sink import SmtpSink
from incidents import channels, delivery, outbound, outbox, ratelimits
from incidents.models import Notification, TimelineEvent

pytestmark = pytest.mark.django_db


# --- Servers ----------------------------------------------------------------------------------


@pytest.fixture
def smtp(settings):
    """A real SMTP server on loopback, and the desk's mail pointed at it."""
    sink = SmtpSink().start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", sink.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    yield sink
    for adapter in channels.adapters().values():
        adapter.close()
    sink.stop()


class Receiver:
    """An HTTP/1.1 receiver (keep-alive) that counts connections and records requests."""

    def __init__(self, answer=None):
        self.connections = 0
        self.received: list[tuple[float, str, int]] = []  # (time, Idempotency-Key, status answered)
        self.answer = answer or (lambda key: (200, {}, 0.0))  # → status, headers, seconds to stall
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # As real servers do: a response's header and body writes would otherwise wait
            # for the client's delayed ACK (Nagle), ~40 ms a request on a kept-alive connection.
            disable_nagle_algorithm = True

            def setup(self):
                super().setup()
                with receiver.lock:
                    receiver.connections += 1

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                key = self.headers.get("Idempotency-Key", "")
                status, headers, stall = receiver.answer(key)
                if stall:
                    time.sleep(stall)
                with receiver.lock:
                    receiver.received.append((time.time(), key, status))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}/hook"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        self._trust = outbound.trusting("127.0.0.1", self.port)
        self._trust.__enter__()

    def accepted(self) -> list[str]:
        with self.lock:
            return [key for _at, key, status in self.received if 200 <= status < 300]

    def close(self):
        self._trust.__exit__(None, None, None)
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers():
    made = []

    def make(answer=None) -> Receiver:
        made.append(Receiver(answer))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


# --- Rows ---------------------------------------------------------------------------------------


@pytest.fixture
def outbox_rows(file_incident, alice, acme):
    incident = file_incident()

    def make(channel: str, targets: list[str]) -> list[int]:
        rows = [
            Notification(
                brand=acme,
                incident=incident,
                recipient=alice,
                channel=channel,
                target=target,
                secret="s3cret",
                reason="escalated",
                subject=f"Escalated {i}",
                body="Someone must claim it.",
                payload={"event": "escalated", "n": i},
                idempotency_key=uuid.uuid4(),
                next_attempt_at=timezone.now() + timedelta(minutes=1),
            )
            for i, target in enumerate(targets)
        ]
        Notification.all_brands.bulk_create(rows)
        return [row.pk for row in rows]

    return make


def statuses(ids) -> dict[str, int]:
    found: dict[str, int] = {}
    for status in Notification.all_brands.filter(pk__in=ids).values_list("status", flat=True):
        found[status] = found.get(status, 0) + 1
    return found


def keys_of(ids) -> set[str]:
    return {
        str(k) for k in Notification.all_brands.filter(pk__in=ids).values_list("idempotency_key", flat=True)
    }


def deliver_until_done(ids, *, timeout: float = 30.0) -> int:
    """What the worker does: deliver what is due, again and again, until nothing is pending; rounds taken."""
    rounds, give_up = 0, time.monotonic() + timeout
    while Notification.all_brands.filter(pk__in=ids, status="pending").exists():
        assert time.monotonic() < give_up, statuses(ids)
        due = list(
            Notification.all_brands.filter(pk__in=ids, status="pending")
            .exclude(not_before__gt=timezone.now())
            .values_list("pk", flat=True)
        )
        if due:
            delivery.deliver_batch(due)
            rounds += 1
        else:
            time.sleep(0.05)
    return rounds


# --- E-mail -------------------------------------------------------------------------------------


def test_200_emails_to_200_recipients_use_a_handful_of_connections_and_arrive_once(
    smtp, outbox_rows, settings
):
    settings.NOTIFICATION_EMAIL_CONNECTIONS = 4
    addresses = [f"person{i}@acme.test" for i in range(200)]
    ids = outbox_rows("email", addresses)
    # As the outbox hands them to the worker: two tasks of 100.
    for start in (0, 100):
        outcomes = delivery.deliver_batch(ids[start : start + 100])
        assert set(outcomes.values()) == {"sent"}
    assert statuses(ids) == {"sent": 200}
    assert smtp.recipients() == sorted(addresses)
    assert smtp.duplicates() == []
    # Kept open across the two batches: one connection per parallel list, not per e-mail.
    assert 1 <= smtp.connections <= 4, smtp.connections
    keys = {
        str(k) for k in Notification.all_brands.filter(pk__in=ids).values_list("idempotency_key", flat=True)
    }
    assert set(smtp.accepted) == keys


def test_a_recipient_the_server_refuses_fails_alone(smtp, outbox_rows):
    smtp.refuse = {"gone@acme.test"}
    addresses = [f"person{i}@acme.test" for i in range(10)]
    addresses[4] = "gone@acme.test"
    ids = outbox_rows("email", addresses)
    outcomes = delivery.deliver_batch(ids)
    assert outcomes[ids[4]] == "failed"
    assert [outcomes[pk] for pk in ids if pk != ids[4]] == ["sent"] * 9
    assert len(smtp.accepted) == 9 and smtp.duplicates() == []
    refused = Notification.all_brands.get(pk=ids[4])
    assert refused.last_error.startswith("e-mail: refused 550")
    event = TimelineEvent.all_brands.get(kind="notified", data__notification=ids[4])
    assert (event.data["outcome"], event.data["error"]) == ("failed", "not delivered")


def test_a_connection_dropped_mid_batch_retries_the_rest_and_sends_nothing_twice(smtp, outbox_rows, settings):
    settings.NOTIFICATION_EMAIL_CONNECTIONS = 1
    settings.NOTIFICATION_BACKOFF_SECONDS = 0.2
    ids = outbox_rows("email", [f"person{i}@acme.test" for i in range(30)])
    smtp.drop_after(12)  # the 13th message: the server hangs up instead of accepting it
    first = delivery.deliver_batch(ids)
    assert [first[pk] for pk in ids[:12]] == ["sent"] * 12
    assert first[ids[12]] == "retry"  # the one in flight
    # The rest went on over a new connection.
    assert [first[pk] for pk in ids[13:]] == ["sent"] * 17
    assert smtp.connections == 2
    deliver_until_done(ids)
    assert statuses(ids) == {"sent": 30}
    assert smtp.dropped == 1
    assert len(smtp.accepted) == 30 and smtp.duplicates() == []
    assert Notification.all_brands.get(pk=ids[12]).attempts == 2


def test_the_smtp_connection_is_closed_once_idle(smtp, outbox_rows, settings):
    settings.NOTIFICATION_IDLE_CLOSE_SECONDS = 0.5
    delivery.deliver_batch(outbox_rows("email", ["a@acme.test", "b@acme.test"]))
    assert smtp.open_connections == 1  # kept for the next burst
    # The worker's reaper thread closes it, not this test.
    deadline = time.monotonic() + 5
    while smtp.open_connections and time.monotonic() < deadline:
        time.sleep(0.02)
    assert smtp.open_connections == 0


def test_a_batch_is_recorded_in_a_fixed_number_of_queries(
    smtp, outbox_rows, settings, django_assert_max_num_queries
):
    settings.NOTIFICATION_EMAIL_CONNECTIONS = 1  # one list each: the same work but for its length
    small, large = outbox_rows("email", ["a@acme.test"] * 5), outbox_rows("email", ["b@acme.test"] * 100)
    with django_assert_max_num_queries(10) as small_run:
        delivery.deliver_batch(small)
    with django_assert_max_num_queries(10) as large_run:
        delivery.deliver_batch(large)
    # The lease, the names, then one UPDATE and one INSERT per list: not per message.
    assert len(large_run.captured_queries) == len(small_run.captured_queries)
    assert statuses(large) == {"sent": 100}
    assert TimelineEvent.all_brands.filter(kind="notified", data__notification__in=large).count() == 100


# --- Webhooks -----------------------------------------------------------------------------------


def test_100_webhooks_to_one_host_reuse_connections(receivers, outbox_rows, settings):
    settings.NOTIFICATION_WEBHOOK_CONNECTIONS_PER_HOST = 2
    receiver = receivers()
    ids = outbox_rows("webhook", [receiver.url] * 100)
    assert set(delivery.deliver_batch(ids).values()) == {"sent"}
    assert len(receiver.accepted()) == 100 and len(set(receiver.accepted())) == 100
    assert receiver.connections <= 2, receiver.connections


def test_a_receiver_that_hangs_delays_only_its_own_messages(receivers, outbox_rows, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 1.5
    settings.NOTIFICATION_WEBHOOK_CONNECTIONS_PER_HOST = 2
    hung = receivers(lambda key: (200, {}, 3.0))
    fine = receivers()
    ids = outbox_rows("webhook", [hung.url] * 5 + [fine.url] * 20)
    started = time.time()
    outcomes = delivery.deliver_batch(ids)
    took = time.time() - started
    # The other host's twenty arrived while the hung one was still being waited for.
    assert len(fine.accepted()) == 20
    assert max(at for at, _key, _status in fine.received) - started < 1.0
    assert [outcomes[pk] for pk in ids[5:]] == ["sent"] * 20
    # One timeout per connection to the hung host (two, in parallel), not five in a row:
    # those are retried, the rest wait untried.
    hung_outcomes = [outcomes[pk] for pk in ids[:5]]
    assert sorted(hung_outcomes) == ["deferred"] * 3 + ["retry"] * 2
    assert took < 2 * settings.WEBHOOK_TIMEOUT_SECONDS
    untried = [pk for pk in ids[:5] if outcomes[pk] == "deferred"]
    assert {row.attempts for row in Notification.all_brands.filter(pk__in=untried)} == {0}
    retried = [pk for pk in ids[:5] if outcomes[pk] == "retry"]
    assert {row.last_error for row in Notification.all_brands.filter(pk__in=retried)} == {
        "webhook: ReadTimeout"
    }


def test_429_with_retry_after_is_obeyed_and_nothing_is_dropped(receivers, outbox_rows, settings):
    settings.NOTIFICATION_BACKOFF_SECONDS = 0.1
    # One connection to the host: a request already on its way when a 429 arrives on
    # another connection cannot be called back, and this test times every request.
    settings.NOTIFICATION_WEBHOOK_CONNECTIONS_PER_HOST = 1
    refusals = {"left": 3}

    def answer(key):
        if refusals["left"]:
            refusals["left"] -= 1
            return 429, {"Retry-After": "1"}, 0.0
        return 200, {}, 0.0

    target = receivers(answer)
    ids = outbox_rows("webhook", [target.url] * 10)
    deliver_until_done(ids, timeout=20)
    assert statuses(ids) == {"sent": 10}
    assert sorted(target.accepted()) == sorted(keys_of(ids))
    # Every 429 was followed by a second of silence: no request reached the host before
    # its Retry-After had passed, from this batch or the next.
    times = [(at, status) for at, _key, status in target.received]
    for (at, status), (next_at, _next) in itertools.pairwise(times):
        if status == 429:
            assert next_at - at >= 0.95, times
    assert len(times) == 13


def test_a_rate_limit_paces_a_host_across_batches(receivers, outbox_rows, settings):
    settings.NOTIFICATION_WEBHOOK_RATE_PER_HOST = "5/second"
    settings.NOTIFICATION_RATE_WAIT_SECONDS = 0.2  # a longer wait goes back to the outbox
    target = receivers()
    ids = outbox_rows("webhook", [target.url] * 12)
    started = time.time()
    deliver_until_done(ids, timeout=20)
    assert statuses(ids) == {"sent": 12}
    times = sorted(at for at, _key, _status in target.received)
    # No more than 5 in any second (as the receiver's clock sees them arrive, give or take).
    for i, at in enumerate(times):
        assert len([t for t in times[i:] if t - at < 0.9]) <= 5, [round(t - started, 2) for t in times]
    assert times[-1] - started >= 2.0


# --- Rate limits across workers -----------------------------------------------------------------


@pytest.mark.redis
def test_a_budget_holds_across_workers_through_redis(settings):
    key = f"test:{uuid.uuid4()}"
    first, second = ratelimits.Limiter(settings.REDIS_URL), ratelimits.Limiter(settings.REDIS_URL)
    wanted = [channels.Limit(key, "4/minute")]
    spent = [limiter.acquire(wanted) == 0 for limiter in (first, second) * 3]
    assert spent == [True, True, True, True, False, False]
    assert 55 < second.acquire(wanted) <= 60
    # A pause set through one is seen by the other.
    paused = f"test:{uuid.uuid4()}"
    first.pause([paused], 30)
    assert 29 < second.paused_for([paused]) <= 30


def test_with_redis_down_limits_count_per_process_and_nothing_fails(caplog):
    dead = ratelimits.Limiter("redis://127.0.0.1:1/0")  # nothing listens on port 1
    wanted = [channels.Limit("test:down", "2/minute")]
    started = time.monotonic()
    assert [dead.acquire(wanted) == 0 for _ in range(3)] == [True, True, False]
    dead.pause(["test:down-pause"], 5)
    assert 4 < dead.paused_for(["test:down-pause"]) <= 5
    assert time.monotonic() - started < 2  # one failed connection, then per process
    assert "counting per process" in caplog.text


def test_a_crashing_adapter_leaves_nothing_leased(outbox_rows, settings):
    settings.NOTIFICATION_CHANNELS = {
        **settings.NOTIFICATION_CHANNELS,
        "telegram": f"{__name__}.CrashingChannel",
    }
    ids = outbox_rows("telegram", ["1", "2", "3"])
    outcomes = delivery.deliver_batch(ids)
    assert [outcomes[pk] for pk in ids] == ["sent", "retry", "deferred"]
    rows = {row.pk: row for row in Notification.all_brands.filter(pk__in=ids)}
    assert all(row.leased_until is None for row in rows.values())
    assert rows[ids[1]].last_error == "RuntimeError"  # taken and never reported: maybe sent
    assert rows[ids[2]].attempts == 0  # never taken


class CrashingChannel(channels.Channel):
    def send_batch(self, notifications):
        for notification in notifications:
            if notification.target == "2":
                raise RuntimeError("adapter bug")
            yield notification, channels.Outcome.sent()


def test_deliver_one_still_answers_for_one_row(smtp, outbox_rows):
    (pk,) = outbox_rows("email", ["one@acme.test"])
    assert outbox.deliver(pk) == "sent"
    assert outbox.deliver(pk) == "skipped"
