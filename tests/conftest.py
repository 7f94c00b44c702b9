"""
Personas and clients shared by the suite.

acme: alice (manager), bob (responder), dave (responder), carol (viewer).
globex: mallory (manager). root is a superuser. Every client authenticates
for real (a knox token or an integration key), so auth runs in every test.
"""

import os
import threading

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from knox.models import AuthToken
from rest_framework.test import APIClient

from crisis.models import Brand, BrandKey, Membership, Role
from crisis.tenancy import Principal
from incidents import brand_setup, filing, services

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


def pytest_sessionstart(session):
    """
    With REQUIRE_SERVICES=1 (CI), a missing PostgreSQL or Redis fails the run instead of
    skipping. Checked here rather than at collection so that the run stops before any
    xdist worker starts (workers collect; the controller does not).
    """
    if not REQUIRE_SERVICES:
        return
    if "postgresql" not in settings.DATABASES["default"]["ENGINE"]:
        raise pytest.UsageError(
            "REQUIRE_SERVICES=1 but DATABASE_URL is not PostgreSQL: refusing to run a weaker suite."
        )
    import redis

    url = os.environ.get("REDIS_URL", "")
    if not url.startswith("redis://"):
        raise pytest.UsageError("REQUIRE_SERVICES=1 needs REDIS_URL=redis://…")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        raise pytest.UsageError(f"REQUIRE_SERVICES=1 but Redis at {url} does not answer: {exc}") from exc


def pytest_collection_modifyitems(config, items):
    """Without PostgreSQL, postgres-only tests skip — unless services are required, then they fail."""
    engine = settings.DATABASES["default"]["ENGINE"]
    no_postgres = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)")
    no_redis = pytest.mark.skip(reason="needs Redis (set REDIS_URL)")
    for item in items:
        if "postgres" in item.keywords and "postgresql" not in engine:
            item.add_marker(no_postgres)
        if "redis" in item.keywords and not os.environ.get("REDIS_URL"):
            item.add_marker(no_redis)


@pytest.fixture(autouse=True)
def _test_settings(settings):
    # PBKDF2 is deliberately slow; tests hash many throwaway passwords.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Production serves collected, hashed static files; tests do not run collectstatic.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    # Each test's database starts over (brand ids and setup versions repeat): so does
    # the per-process cache of brand setups.
    brand_setup._cache.clear()


@pytest.fixture
def is_postgres():
    return connection.vendor == "postgresql"


@pytest.fixture
def acme(db):
    return Brand.objects.create(slug="acme", name="Acme Coffee")


@pytest.fixture
def globex(db):
    return Brand.objects.create(slug="globex", name="Globex Air")


def make_user(username, brand=None, role=None, **extra):
    user = get_user_model().objects.create_user(username=username, password="x-" + username, **extra)
    if brand is not None:
        Membership.objects.create(brand=brand, user=user, role=role)
    return user


@pytest.fixture
def alice(acme):
    return make_user("alice", acme, Role.MANAGER)


@pytest.fixture
def bob(acme):
    return make_user("bob", acme, Role.RESPONDER)


@pytest.fixture
def dave(acme):
    return make_user("dave", acme, Role.RESPONDER)


@pytest.fixture
def carol(acme):
    return make_user("carol", acme, Role.VIEWER)


@pytest.fixture
def mallory(globex):
    return make_user("mallory", globex, Role.MANAGER)


@pytest.fixture
def erin(acme):
    """A second manager: the PR head of the statement routes' tests."""
    return make_user("erin", acme, Role.MANAGER, email="erin@acme.example")


@pytest.fixture
def frank(acme):
    """Legal: a responder marked as the brand's executive."""
    frank = make_user("frank", acme, Role.RESPONDER, email="frank@acme.example")
    Membership.all_brands.filter(user=frank).update(is_executive=True)
    return frank


def statement_written(incident, author, *, body="Sorry.", submit=False):
    """A statement by `author` through the service, in English for VK; with `submit`, on its route."""
    from incidents import statements

    principal = Principal.for_user(author)
    statement = statements.statement_create(
        incident_id=incident.pk, principal=principal, channels=["vk"], language="en", body=body
    )
    if submit:
        statements.statement_submit(incident_id=incident.pk, statement_id=statement.pk, principal=principal)
    return statement


@pytest.fixture
def root(db):
    return make_user("root", is_superuser=True, is_staff=True)


def all_at_once(work, arguments) -> list:
    """
    `work(argument)` for each argument in its own thread, all released at the same
    moment; each thread closes its own database connection. The results in the order
    the threads finished; the first exception a thread raised is raised here.
    """
    barrier = threading.Barrier(len(arguments))
    results, errors = [], []

    def run(argument):
        barrier.wait()
        try:
            results.append(work(argument))
        except BaseException as exc:  # reported in the test's thread, not lost in this one
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(argument,)) for argument in arguments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


def client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        _row, token = AuthToken.objects.create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.fixture
def api():
    """`api(user)` → a client with a real token for that user; `api(None)` → anonymous."""
    return client_for


@pytest.fixture
def acme_key(acme):
    key, plain = BrandKey.issue(brand=acme, name="youscan")
    key.plain = plain
    return key


@pytest.fixture
def key_client(acme_key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {acme_key.plain}")
    return client


@pytest.fixture
def file_incident(acme, alice):
    """File an incident through the service (as alice unless told otherwise)."""

    def _file(brand=None, by=None, **fields):
        fields.setdefault("title", "Angry comments under the promo post")
        return filing.incident_file(
            principal=Principal.for_user(by or alice), brand=brand or acme, **fields
        ).incident

    return _file


def complete_required_steps(incident, user):
    """Tick off the incident's open required checklist steps through the service."""
    for step in incident.checklist.filter(required=True, completed_at__isnull=True):
        services.incident_step_complete(
            incident_id=incident.pk, step_id=step.pk, principal=Principal.for_user(user), note="done"
        )


def drive_to(incident, state, *, manager, responder):
    """Walk an incident through the real services until it reaches `state`."""
    path = ["detected", "acknowledged", "investigated", "resolved", "reviewed"]
    steps = {
        "acknowledged": lambda: services.incident_claim(
            incident_id=incident.pk, principal=Principal.for_user(responder)
        ),
        "investigated": lambda: services.incident_investigate(
            incident_id=incident.pk, principal=Principal.for_user(responder)
        ),
        "resolved": lambda: (
            complete_required_steps(incident, responder),
            services.incident_resolve(
                incident_id=incident.pk,
                principal=Principal.for_user(responder),
                resolution="Replied to every comment; refund issued.",
            ),
        ),
        "reviewed": lambda: services.incident_review(
            incident_id=incident.pk,
            principal=Principal.for_user(manager),
            summary="s",
            root_cause="r",
            lessons="l",
            follow_ups=[],
        ),
    }
    for target in path[1 : path.index(state) + 1]:
        steps[target]()
    incident.refresh_from_db()
    return incident


@pytest.fixture
def incident_in():
    """`incident_in(incident, state, manager=…, responder=…)` drives an incident to a state."""
    return drive_to
