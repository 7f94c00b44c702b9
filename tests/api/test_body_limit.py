"""
The body limit (DATA_UPLOAD_MAX_MEMORY_SIZE, 2 MiB): the API takes JSON only, and no body
beyond the limit is read, whatever its type, declared length or chunked (413).
(The same through gunicorn, with the connection closed after it: tests/config/test_gunicorn.py.)
"""

import io
import json

import pytest
from django.test import Client

from incidents.models import Incident

LIMIT = 2 * 1024 * 1024
MULTIPART = "multipart/form-data; boundary=xyz"


class Recording(io.BytesIO):
    """A request body that counts what the server read of it."""

    taken = 0

    def read(self, size=-1):
        data = super().read(size)
        self.taken += len(data)
        return data

    def readline(self, size=-1):
        data = super().readline(size)
        self.taken += len(data)
        return data


def multipart(fields: dict, file_size: int = 0) -> bytes:
    parts = [
        f'--xyz\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    if file_size:
        parts.append(
            b'--xyz\r\nContent-Disposition: form-data; name="f"; filename="big.bin"\r\n'
            b"Content-Type: application/octet-stream\r\n\r\n" + b"\0" * file_size + b"\r\n"
        )
    return b"".join(parts) + b"--xyz--\r\n"


def test_the_api_takes_json_only(api, bob):
    body = multipart({"username": "bob", "password": "x-bob"})
    response = api(None).generic("POST", "/api/v1/auth/token/", body, content_type=MULTIPART)
    assert response.status_code == 415
    form = api(bob).post("/api/v1/incidents/", {"brand": "acme", "title": "t"}, format="multipart")
    assert form.status_code == 415
    urlencoded = api(bob).generic(
        "POST", "/api/v1/incidents/", "brand=acme&title=t", content_type="application/x-www-form-urlencoded"
    )
    assert urlencoded.status_code == 415
    assert not Incident.all_brands.exists()


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/api/v1/auth/token/", MULTIPART),  # anonymous: the case reported
        ("/api/v1/auth/token/", "application/json"),
        ("/api/v1/incidents/", "application/json"),
        ("/login/", MULTIPART),  # the console's forms too
        ("/login/", "application/x-www-form-urlencoded"),
        ("/admin/login/", MULTIPART),
    ],
)
def test_a_declared_length_over_the_limit_is_refused_unread(db, path, content_type):
    body = Recording(multipart({"username": "bob"}, file_size=4096))
    response = Client().generic(
        "POST",
        path,
        b"",
        content_type=content_type,
        CONTENT_LENGTH=str(200 * 1024 * 1024),
        **{"wsgi.input": body},
    )
    assert response.status_code == 413
    assert body.taken == 0
    if path.startswith("/api/"):
        assert response.json() == {
            "detail": f"The request body is larger than {LIMIT} bytes.",
            "code": "too_large",
        }


def chunked(client, path, body: bytes, **extra):
    """A request as gunicorn hands a chunked one on: no Content-Length, the body de-chunked."""
    stream = Recording(body)
    response = client.generic(
        "POST",
        path,
        b"",
        content_type="application/json",
        CONTENT_LENGTH="",
        HTTP_TRANSFER_ENCODING="chunked",
        **{"wsgi.input": stream, "wsgi.input_terminated": True},
        **extra,
    )
    return response, stream


def test_a_chunked_body_over_the_limit_is_refused_having_read_no_more_than_the_limit(api, bob):
    body = json.dumps({"brand": "acme", "title": "t", "description": "x" * (3 * LIMIT)}).encode()
    response, stream = chunked(api(bob), "/api/v1/incidents/", body)
    assert response.status_code == 413
    assert stream.taken <= LIMIT + 1
    assert not Incident.all_brands.exists()


def test_a_chunked_body_within_the_limit_is_served(api, bob):
    body = json.dumps({"brand": "acme", "title": "Chunked by the sender"}).encode()
    response, _stream = chunked(api(bob), "/api/v1/incidents/", body)
    assert response.status_code == 201, response.content
    assert Incident.all_brands.get().title == "Chunked by the sender"


def test_a_body_at_the_limit_is_read(api, bob):
    padding = LIMIT - len(json.dumps({"brand": "acme", "title": "t", "description": ""}))
    body = json.dumps({"brand": "acme", "title": "t", "description": "x" * padding})
    assert len(body) == LIMIT
    response = api(bob).post("/api/v1/incidents/", body, content_type="application/json")
    assert response.status_code == 400  # read and judged: the description is too long
    assert list(response.json()) == ["description"]
