"""
Hostile text everywhere (API.md, "Conventions": no input of any shape may produce a 500).

Hypothesis walks every operation of the OpenAPI schema and every console URL in the
URLconf, and sends them NUL, lone surrogates, control characters and line separators — in
values, in field names, in path segments and in query strings — inside bodies that are
otherwise often valid (so that the hostile text reaches the services and the database),
and multipart bodies far over the size limit. Every answer is below 500, and every API
answer is valid UTF-8. (tests/test_schemathesis.py checks the schema's own shapes.)
"""

import io
import json
from urllib.parse import quote

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from knox.models import AuthToken

from crisis.models import BrandKey
from incidents.console import forms as console_forms
from incidents.console import urls as console_urls
from playbooks.models import Playbook, ResponseTemplate

pytestmark = [pytest.mark.hostile]

EDGES = [
    "\x00",
    "a\x00b",
    "\ud800",
    "\udfff",
    "broken \ud83d emoji",
    "\ud83d\x00",
    "\x01\x02\x1b[31m\x7f",
    "line\u2028break\u2029",
    "\ufeffbom",
    "",
    " ",
    "%00",
    "{placeholder}",
    "{\ud800}",
    "=cmd|' /C calc'!A0",
    "acme",
    "bob",
    "9" * 40,
    "x" * 300,
]
hostile = st.one_of(
    st.sampled_from(EDGES),
    st.text(st.characters(categories=["Cc", "Cs", "Zl", "Zp", "Ll", "Nd", "So"]), max_size=12),
)

# Values that pass validation, so that a hostile neighbour gets past the first check.
GOOD = {
    "brand": "acme",
    "slug": "acme",
    "username": "dave",
    "assignee": "bob",
    "owner": "bob",
    "role": "responder",
    "title": "Angry comments",
    "name": "n",
    "platform": "vk",
    "sentiment": "negative",
    "external_id": "post-1",
    "published_at": "2026-01-01T10:00:00Z",
    "detected_at": "2026-01-01T10:00:00Z",
    "language": "en",
    "category": "other",
    "severity": "high",
    "email": "someone@example.com",
    "password": "a long enough password 1",
    "resolution": "done",
    "reason": "again",
    "summary": "s",
    "root_cause": "r",
    "lessons": "l",
    "body": "Hello {customer_name}",
    "kind": "email",
    "target": "ops@example.com",
}


def encoded(text: str) -> str:
    """Percent-encoded as a client sends it: a lone surrogate as the bytes it would be in UTF-8."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


@st.composite
def value_for(draw, schema: dict, components: dict, name: str = "", depth: int = 0):
    if "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
    for combined in ("allOf", "oneOf", "anyOf"):
        if combined in schema:
            return draw(value_for(schema[combined][0], components, name, depth))
    if draw(st.integers(0, 4)) == 0:
        return draw(hostile)
    if name in GOOD and draw(st.booleans()):
        return GOOD[name]
    if "enum" in schema:
        return draw(st.sampled_from([v for v in schema["enum"] if v is not None] or [None]))
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        if depth > 2:
            return {}
        body = {
            field: draw(value_for(spec, components, field, depth + 1))
            for field, spec in schema.get("properties", {}).items()
            if not spec.get("readOnly") and (field in schema.get("required", ()) or draw(st.booleans()))
        }
        if draw(st.integers(0, 5)) == 0:
            body[draw(hostile)] = draw(hostile)  # a field named by hostile text
        return body
    if kind == "array":
        if depth > 2:
            return []
        return draw(st.lists(value_for(schema.get("items", {}), components, name, depth + 1), max_size=3))
    if kind == "integer":
        return draw(st.sampled_from([0, 1, -1, 2**63]))
    if kind == "boolean":
        return draw(st.booleans())
    return draw(hostile)


@pytest.fixture
def world(alice, bob, dave, file_incident, incident_in):
    incident = file_incident()
    resolved = incident_in(file_incident(title="second"), "resolved", manager=alice, responder=bob)
    key, _plain = BrandKey.issue(brand=alice.memberships.get().brand, name="tool")
    step = incident.checklist.first()
    return {
        "alice": alice,
        "incident": str(incident.pk),
        "resolved": str(resolved.pk),
        "step": str(step.pk) if step else "1",
        "key": str(key.pk),
        "playbook": str(getattr(Playbook.all_brands.first(), "pk", 1)),
        "template": str(ResponseTemplate.all_brands.first().pk),
    }


@pytest.fixture(scope="module")
def schema(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        return Client().get("/api/schema/?format=json").json()


def operations(schema) -> dict[tuple[str, str], dict]:
    return {
        (method.upper(), template): operation
        for template, methods in schema["paths"].items()
        for method, operation in methods.items()
        if template.startswith("/api/v1/")
    }


def content_of(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def real(parameter: str, template: str, world: dict) -> str:
    if parameter in ("slug",):
        return "acme"
    if parameter == "username":
        return "dave"
    if parameter == "step_id":
        return world["step"]
    if parameter == "key_id":
        return world["key"]
    if template.startswith("/api/v1/playbooks/"):
        return world["playbook"]
    if template.startswith("/api/v1/response-templates/"):
        return world["template"]
    return world["incident"]


FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(data=st.data())
def test_no_api_operation_fails_on_hostile_text(data, schema, world):
    every = operations(schema)
    method, template = data.draw(st.sampled_from(sorted(every)), label="operation")
    operation = every[method, template]
    path = template
    for parameter in [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]:
        segment = data.draw(st.one_of(st.just(real(parameter, template, world)), hostile), label=parameter)
        path = path.replace("{" + parameter + "}", encoded(segment) or "x")
    query = [
        (p["name"], data.draw(st.one_of(st.just("1"), hostile), label=p["name"]))
        for p in operation.get("parameters", [])
        if p["in"] == "query" and data.draw(st.booleans())
    ]
    if data.draw(st.integers(0, 5)) == 0:
        query.append((data.draw(hostile, label="query name"), data.draw(hostile)))
    if query:
        path += "?" + "&".join(f"{encoded(name)}={encoded(value)}" for name, value in query)
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    body = None
    if content:
        body = data.draw(value_for(content["schema"], schema["components"]["schemas"]), label="body")
    _row, token = AuthToken.objects.create(user=world["alice"])
    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    response = client.generic(
        method,
        path,
        json.dumps(body) if body is not None else "",  # a lone surrogate goes as its \\u escape
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY=data.draw(st.sampled_from(["", "k-1", "k\u00e9"]), label="idempotency key"),
    )
    content = content_of(response)
    assert response.status_code < 500, (method, path, body, content[:500])
    content.decode("utf-8")  # every answer can be sent as UTF-8


class Unread(io.BytesIO):
    def read(self, size=-1):
        raise AssertionError("a body over the limit was read")

    readline = read


@FUZZ
@given(data=st.data())
def test_no_body_over_the_limit_is_read_on_any_path(data, schema, world):
    method, template = data.draw(st.sampled_from(sorted(operations(schema))), label="operation")
    path = template.replace("{slug}", "acme").replace("{username}", "dave")
    for name in ("{id}", "{key_id}", "{step_id}", "{invitation_id}", "{follow_up_id}"):
        path = path.replace(name, world["incident"])
    response = Client().generic(
        method if method != "GET" else "POST",
        data.draw(st.sampled_from([path, "/login/", "/admin/login/", "/"]), label="path"),
        b"",
        content_type="multipart/form-data; boundary=xyz",
        CONTENT_LENGTH=str(data.draw(st.integers(2 * 1024 * 1024 + 1, 2**40), label="length")),
        **{"wsgi.input": Unread()},
    )
    assert response.status_code == 413


def console_routes() -> list[str]:
    def walk(patterns, prefix=""):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern):
                yield prefix + str(entry.pattern)

    return [route for route in walk(console_urls.urlpatterns) if "logout" not in route]


def console_path(route: str, world: dict, draw) -> str:
    path = "/" + route.lstrip("^").rstrip("$")
    fills = {
        r"(?P<pk>[0-9]{1,18})": world["incident"] if draw(st.booleans()) else world["resolved"],
        r"(?P<step_id>[0-9]{1,18})": world["step"],
        r"(?P<action>[a-z]{1,20})": draw(
            st.sampled_from(["claim", "investigate", "resolve", "reopen", "review", "reassign", "comment"])
        ),
        r"(?P<token>[A-Za-z0-9_-]{1,100})": "a" * 43,
        "<slug:slug>": "acme",
    }
    for pattern, value in fills.items():
        path = path.replace(pattern, value)
    return path


FORM_FIELDS = sorted(
    {
        name
        for form in [
            *[getattr(console_forms, n) for n in dir(console_forms) if n.endswith("Form")],
        ]
        if isinstance(form, type) and hasattr(form, "base_fields")
        for name in form.base_fields
    }
    | {name for name in console_forms.SlaForm().fields}
    | {"resolution", "reason", "summary", "root_cause", "lessons", "follow_ups", "body", "note", "assignee"}
    | {
        "levels-TOTAL_FORMS",
        "levels-INITIAL_FORMS",
        "levels-0-after_seconds",
        "levels-0-users",
        "levels-0-roles",
    }
)


@FUZZ
@given(data=st.data())
def test_no_console_form_fails_on_hostile_text(data, world):
    route = data.draw(st.sampled_from(console_routes()), label="route")
    path = console_path(route, world, data.draw)
    fields = data.draw(st.lists(st.sampled_from(FORM_FIELDS), unique=True, max_size=8), label="fields")
    pairs = [
        (name, data.draw(st.one_of(st.just(GOOD.get(name, "1")), hostile), label=name)) for name in fields
    ]
    if data.draw(st.integers(0, 4)) == 0:
        pairs.append((data.draw(hostile, label="field name"), data.draw(hostile)))
    encoded_pairs = "&".join(f"{encoded(name)}={encoded(value)}" for name, value in pairs)
    client = Client()
    client.force_login(world["alice"])
    if data.draw(st.booleans(), label="as a query string"):
        response = client.get(f"{path}?{encoded_pairs}")
    else:
        response = client.generic(
            "POST", path, encoded_pairs.encode(), content_type="application/x-www-form-urlencoded"
        )
    assert response.status_code < 500, (path, pairs, content_of(response)[:500])
