"""
The e-mail an SMTP delivery writes (`channels.email.render`) says what Django's
`EmailMessage` would: the same subject, addresses, body and identity headers once parsed,
for any text a notification can carry.
"""

import email
import email.policy
import uuid

import pytest
from django.core.mail.message import sanitize_address
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from incidents.channels import email as email_channel
from incidents.models import Notification

# Text a template or a person can put in a title or a body: any character but the
# surrogates and NUL, which no mail can carry and Django's writer refuses too.
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=1500)
ADDRESSES = st.sampled_from(
    ["ops@acme.test", "Анна Петрова <anna@acme.test>", "oncall@пример.рф", '"Desk, Night" <night@acme.test>']
)


def parsed(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def django_bytes(notification) -> bytes:
    message = email_channel.email_of(notification)
    return message.message().as_bytes(linesep="\r\n")


def essentials(message) -> dict:
    return {
        # Django's writer folds a long encoded subject onto the next line, which a reader
        # parses with a leading space: compare the words.
        "subject": " ".join(message["Subject"].split()),
        "from": message["From"].addresses,
        "to": message["To"].addresses,
        "message_id": message["Message-ID"],
        "key": message[email_channel.IDEMPOTENCY_HEADER],
        "type": message.get_content_type(),
        "charset": message.get_content_charset(),
        # Django writes "\n" line ends as CRLF on the wire; so do we.
        "body": message.get_content().replace("\r\n", "\n"),
    }


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(subject=TEXT, body=TEXT, target=ADDRESSES)
@example(
    subject="Эскалация: волна негатива — Acme",
    body="Строка\n.начинается с точки\n" + "я" * 600,
    target="ops@acme.test",
)
@example(subject="x" * 200, body="short", target="ops@acme.test")
@example(subject="", body="", target="oncall@пример.рф")
def test_render_says_what_djangos_writer_says(subject, body, target):
    notification = Notification(
        channel="email",
        target=target,
        reason="escalated",
        subject=subject,
        body=body,
        idempotency_key=uuid.uuid4(),
    )
    ours, django = parsed(email_channel.render(notification)), parsed(django_bytes(notification))
    assert essentials(ours) == essentials(django)
    assert not ours.defects, ours.defects


def test_a_line_too_long_for_8bit_is_quoted_printable_and_no_line_exceeds_the_limit():
    notification = Notification(
        channel="email", target="ops@acme.test", subject="s", body="ж" * 2000, idempotency_key=uuid.uuid4()
    )
    raw = email_channel.render(notification)
    assert b"Content-Transfer-Encoding: quoted-printable" in raw
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    assert parsed(raw).get_content() == "ж" * 2000


@pytest.mark.parametrize(
    "target", ["a@b@c", "ops@acme.test\nBcc: x@evil.test", "Ops <ops@acme.test> trailing"]
)
def test_an_address_djangos_backend_refuses_is_refused(target):
    notification = Notification(
        channel="email", target=target, subject="s", body="b", idempotency_key=uuid.uuid4()
    )
    with pytest.raises(ValueError):
        sanitize_address(target, "utf-8")  # what Django's SMTP backend does before sending
    with pytest.raises(ValueError):
        email_channel.render(notification)
