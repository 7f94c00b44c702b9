"""
The console warns of escalation levels that reach no one: ahead of time on the brand's
settings (each level as it would fire today), and on an incident's page (levels that
reached no one, and while it is unclaimed, pending levels that would).
"""

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from crisis.models import Membership, Role
from incidents import policies
from tests.conftest import make_user


def warnings_on(user, url, language="en") -> list[str]:
    client = Client()
    client.force_login(user)
    html = client.get(url, HTTP_ACCEPT_LANGUAGE=language).content.decode()
    section = re.search(r'<section class="reach-warnings".*?</section>', html, re.S)
    if section is None:
        return []
    return [
        " ".join(re.sub(r"<[^>]+>", " ", p).split()).replace("&#x27;", "'")
        for p in re.findall(r'<p class="(?:alarm|notice)">(.*?)</p>', section.group(0), re.S)
    ]


@pytest.fixture
def reachable(alice):
    alice.email = "alice@acme.test"
    alice.save()
    return alice


SETTINGS = "/brands/acme/settings/"


def test_the_default_chain_without_an_executive_is_warned_of(reachable):
    assert warnings_on(reachable, SETTINGS) == [
        "Level 2 would reach no one today: no executive in this brand. "
        "The brand's managers would be told instead: alice."
    ]
    assert warnings_on(reachable, SETTINGS, "ru") == [
        "Уровень 2 сейчас не дошёл бы ни до кого: в бренде нет ключевого коммуникатора. "
        "Вместо этого были бы оповещены руководители бренда: alice."
    ]


def test_an_executive_with_an_e_mail_clears_the_warning(acme, reachable):
    ceo = make_user("ceo", acme, Role.VIEWER, email="ceo@acme.test")
    Membership.all_brands.filter(user=ceo).update(is_executive=True)
    assert warnings_on(reachable, SETTINGS) == []


def test_people_a_level_names_but_cannot_reach_are_named_quietly(acme, reachable, bob):
    policies.escalation_policy_set(
        brand=acme,
        chain={"levels": [{"after_seconds": 0, "roles": ["manager"], "users": ["bob"]}], "repeat": 0},
    )
    assert warnings_on(reachable, SETTINGS) == [
        "Level 1 cannot reach (no e-mail and no notification channel): bob."
    ]


def test_a_brand_whose_managers_cannot_be_reached(alice):
    assert warnings_on(alice, SETTINGS) == [
        "Level 1 would reach no one today: alice: no e-mail and no notification channel. "
        "No manager could be told instead: nobody would hear of it.",
        "Level 2 would reach no one today: no executive in this brand. "
        "No manager could be told instead: nobody would hear of it.",
        "The resolve-overdue alert would reach no one today: alice: no e-mail and no notification channel.",
    ]


def test_an_unclaimed_incident_warns_of_its_pending_levels(reachable, bob, file_incident):
    incident = file_incident(severity="critical")
    assert warnings_on(bob, f"/incidents/{incident.pk}/") == [
        "Level 2 would reach no one today: no executive in this brand. "
        "The brand's managers would be told instead: alice."
    ]


def test_the_settings_page_asks_a_fixed_number_of_queries_whatever_the_chain(acme, reachable):
    client = Client()
    client.force_login(reachable)

    def chain_of(levels: int) -> None:
        for i in range(levels):
            make_user(f"u{levels}{i}", acme, Role.RESPONDER)
        chain = [{"after_seconds": 60 * i, "roles": [], "users": [f"u{levels}{i}"]} for i in range(levels)]
        policies.escalation_policy_set(brand=acme, chain={"levels": chain, "repeat": 0})

    def queries_of_the_page() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(SETTINGS).status_code == 200
        return len(queries)

    chain_of(1)
    client.get(SETTINGS)  # warm: the session, the language
    one_level = queries_of_the_page()
    chain_of(10)
    assert queries_of_the_page() == one_level
