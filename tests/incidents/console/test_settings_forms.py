"""
Brand settings through Django's client: every refusal reads as a sentence in the
viewer's language (never a Python repr such as ErrorDetail(...)), and times are typed
in minutes or hours, stored in seconds, with a target under a minute confirmed first.
"""

import re
from decimal import Decimal
from html import unescape

import pytest
from django.test import Client

from crisis.models import Brand
from incidents import policies
from incidents.console import forms
from incidents.sla import SlaTarget


@pytest.fixture
def manager(alice):
    client = Client()
    client.force_login(alice)
    return client


def sla_post(**changes):
    """The SLA form as the page posts it: ten minutes everywhere unless told otherwise."""
    data = {}
    for severity in ("critical", "high", "medium", "low"):
        for kind in ("ack", "resolve"):
            data[f"{severity}_{kind}"], data[f"{severity}_{kind}_unit"] = "10", "minutes"
    return {**data, **changes}


def chain_post(*levels, repeat=0):
    """Levels as (amount, unit, roles, users)."""
    data = {
        "levels-TOTAL_FORMS": str(len(levels)),
        "levels-INITIAL_FORMS": "0",
        "levels-MIN_NUM_FORMS": "0",
        "levels-MAX_NUM_FORMS": "10",
        "repeat": str(repeat),
    }
    for i, (amount, unit, roles, users) in enumerate(levels):
        data.update(
            {
                f"levels-{i}-after": amount,
                f"levels-{i}-after_unit": unit,
                f"levels-{i}-roles": roles,
                f"levels-{i}-users": users,
            }
        )
    return data


def errors_in(response) -> list[str]:
    """Every error the page shows (field, form and message), as text."""
    page = response.content.decode()
    found = re.findall(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', page, re.S)
    found += re.findall(r'<li class="error"[^>]*>(.*?)</li>', page, re.S)
    return [" ".join(unescape(re.sub(r"<[^>]+>", " ", chunk)).split()) for chunk in found]


REPR_MARKS = ("ErrorDetail", "[", "{'", "code=", "levels:", "non_field_errors", "__all__")


def assert_sentences(errors: list[str]):
    assert errors, "the page shows no error at all"
    for error in errors:
        assert not any(mark in error for mark in REPR_MARKS), error
        assert error[0].isupper(), f"not a sentence: {error!r}"


# --- Item 4: sentences, translated --------------------------------------------------------


def test_sentences_flattens_any_error_detail():
    from rest_framework.exceptions import ErrorDetail

    detail = {
        "levels": [ErrorDetail(string="Not members of this brand: nosuchuser", code="invalid")],
        "repeat": {"non_field_errors": ["Too many."]},
        "empty": [],
    }
    assert forms.sentences(detail) == ["Not members of this brand: nosuchuser", "Too many."]
    assert forms.sentences("One.") == ["One."]
    assert forms.sentences(["One.", ["Two."]]) == ["One.", "Two."]


@pytest.mark.parametrize("language", ["en", "ru"])
def test_a_stranger_in_the_chain_is_a_sentence_in_the_viewers_language(language, manager, acme):
    response = manager.post(
        "/brands/acme/settings/escalation/",
        chain_post(("0", "minutes", ["manager"], "nosuchuser")),
        HTTP_ACCEPT_LANGUAGE=language,
    )
    assert response.status_code == 400
    errors = errors_in(response)
    assert_sentences(errors)
    expected = {"en": "Not members of this brand: nosuchuser", "ru": "Не участники этого бренда: nosuchuser"}
    assert expected[language] in errors
    assert "ErrorDetail" not in response.content.decode()
    assert not hasattr(Brand.objects.get(pk=acme.pk), "escalation_policy")


# Each settings form with input it refuses: where it posts, what it posts, and the sentence.
BAD_INPUT = {
    "sla-zero": ("sla/", sla_post(critical_ack="0"), "Choose more than zero."),
    "sla-words": ("sla/", sla_post(high_resolve="soon"), "Enter a number."),
    "sla-too-long": ("sla/", sla_post(low_resolve="200", low_resolve_unit="hours"), "at most 168 hours"),
    "sla-unit": ("sla/", sla_post(low_ack_unit="fortnights"), "Select a valid choice."),
    "chain-negative": (
        "escalation/",
        chain_post(("-5", "minutes", ["manager"], "")),
        "greater than or equal to 0",
    ),
    "chain-nobody": (
        "escalation/",
        chain_post(("5", "minutes", [], "")),
        "at least one role, user or schedule",
    ),
    "chain-stranger": ("escalation/", chain_post(("5", "minutes", ["manager"], "ghost")), "Not members"),
    "chain-repeat": (
        "escalation/",
        chain_post(("5", "minutes", ["manager"], ""), repeat=99),
        "less than or equal",
    ),
    "member-stranger": ("members/", {"username": "ghost", "role": "viewer"}, "invite them by e-mail"),
    "member-bad-name": ("members/", {"username": "no spaces", "role": "viewer"}, "Enter a valid value."),
    "invitation-email": ("invitations/", {"email": "not-an-address", "role": "viewer"}, "valid email"),
    "key-blank": ("keys/", {"name": ""}, "This field is required."),
}


@pytest.mark.parametrize("case", BAD_INPUT)
def test_each_settings_form_refuses_bad_input_in_sentences(case, manager, acme, bob):
    url, data, expected = BAD_INPUT[case]
    response = manager.post(f"/brands/acme/settings/{url}", data)
    assert response.status_code == 400
    errors = errors_in(response)
    assert_sentences(errors)
    assert any(expected in error for error in errors), errors
    assert not acme.sla_policies.exists()
    assert not hasattr(Brand.objects.get(pk=acme.pk), "escalation_policy")


def test_a_refused_invitation_is_a_sentence_on_its_form(manager, acme, monkeypatch):
    from crisis import services

    monkeypatch.setattr(services, "MAX_PENDING_INVITATIONS", 0)
    response = manager.post(
        "/brands/acme/settings/invitations/", {"email": "e@example.test", "role": "viewer"}
    )
    assert response.status_code == 400
    form = re.search(r'<form[^>]*id="invitation-form".*?</form>', response.content.decode(), re.S).group(0)
    assert "Too many pending invitations; revoke some first." in form
    assert 'value="e@example.test"' in form  # what was typed stays


def test_errors_on_the_settings_page_speak_russian(manager):
    response = manager.post(
        "/brands/acme/settings/sla/", sla_post(critical_ack="0"), HTTP_ACCEPT_LANGUAGE="ru"
    )
    assert response.status_code == 400
    assert "Укажите больше нуля." in errors_in(response)


# --- Minutes and hours ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "seconds, shown",
    [
        (600, [10, "minutes"]),
        (3600, [1, "hours"]),
        (14400, [4, "hours"]),
        (90, [Decimal("1.5"), "minutes"]),
        (5400, [90, "minutes"]),
        (77, [Decimal("1.28"), "minutes"]),
        (0, [0, "minutes"]),
        (1, [Decimal("0.02"), "minutes"]),
    ],
)
def test_seconds_are_shown_in_minutes_or_hours(seconds, shown):
    assert forms.in_units(seconds) == shown


def test_every_stored_second_comes_back_unchanged_through_the_form():
    field = forms.DurationField(min_seconds=0, max_seconds=7 * 86400)
    for seconds in [*range(0, 7300), 86399, 86400, 7 * 86400]:
        amount, unit = forms.in_units(seconds)
        assert field.clean([str(amount), unit]) == seconds, seconds


def test_the_settings_page_shows_stored_targets_in_minutes_and_hours(manager, acme):
    policies.sla_policy_set(brand=acme, targets={"critical": SlaTarget(90, 4 * 3600)})
    page = manager.get("/brands/acme/settings/").content.decode()
    assert re.search(r'name="critical_ack" value="1.5"', page)
    assert re.search(r'name="critical_resolve" value="4"', page)
    assert re.search(
        r'<select name="critical_resolve_unit"[^>]*>.*?<option value="hours" selected>', page, re.S
    )
    assert "critical_ack_seconds" not in page and "after_seconds" not in page
    russian = manager.get("/brands/acme/settings/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert re.search(r'name="critical_ack" value="1,5"', russian)


def test_targets_typed_in_minutes_and_hours_are_stored_in_seconds(manager, acme):
    response = manager.post(
        "/brands/acme/settings/sla/",
        sla_post(
            critical_ack="2.5",
            critical_resolve="3",
            critical_resolve_unit="hours",
            low_resolve="1.5",
            low_resolve_unit="hours",
        ),
        follow=True,
    )
    assert response.redirect_chain == [("/brands/acme/settings/", 302)]
    critical = acme.sla_policies.get(severity="critical")
    assert (critical.ack_seconds, critical.resolve_seconds) == (150, 3 * 3600)
    assert acme.sla_policies.get(severity="low").resolve_seconds == 5400
    # A comma is the decimal mark in Russian.
    manager.post("/brands/acme/settings/sla/", sla_post(high_ack="1,5"), HTTP_ACCEPT_LANGUAGE="ru")
    assert acme.sla_policies.get(severity="high").ack_seconds == 90


def test_escalation_levels_are_typed_in_minutes_and_hours(manager, acme, bob):
    ok = manager.post(
        "/brands/acme/settings/escalation/",
        chain_post(("0", "minutes", ["manager"], "bob"), ("1.5", "hours", ["executive"], "")),
        follow=True,
    )
    assert "Escalation chain saved." in ok.content.decode()
    chain = Brand.objects.get(pk=acme.pk).escalation_policy.chain
    assert [level["after_seconds"] for level in chain["levels"]] == [0, 5400]
    page = manager.get("/brands/acme/settings/").content.decode()
    assert 'name="levels-1-after" value="90"' in page  # 5400 s is not whole hours: 90 minutes


def test_the_new_level_row_left_empty_is_ignored(manager, acme):
    """The page always shows one empty row for a new level, its unit already chosen."""
    data = chain_post(("0", "minutes", ["manager"], ""), ("", "minutes", [], ""))
    response = manager.post("/brands/acme/settings/escalation/", data, follow=True)
    assert "Escalation chain saved." in response.content.decode()
    assert len(Brand.objects.get(pk=acme.pk).escalation_policy.chain["levels"]) == 1


def test_a_target_under_a_minute_asks_for_confirmation_first(manager, acme):
    short = sla_post(critical_ack="0.5")
    asked = manager.post("/brands/acme/settings/sla/", short)
    assert asked.status_code == 400
    page = asked.content.decode()
    assert "A target under a minute leaves nobody time to respond." in page
    assert 'name="confirm_short"' in page
    assert not acme.sla_policies.exists()
    # The form keeps what was typed; ticking the box saves it.
    assert re.search(r'name="critical_ack" value="0.5"', page)
    saved = manager.post("/brands/acme/settings/sla/", {**short, "confirm_short": "on"}, follow=True)
    assert "SLA targets saved." in saved.content.decode()
    assert acme.sla_policies.get(severity="critical").ack_seconds == 30


def test_the_confirmation_box_is_not_shown_until_needed(manager):
    assert 'name="confirm_short"' not in manager.get("/brands/acme/settings/").content.decode()
    assert manager.post("/brands/acme/settings/sla/", sla_post(critical_ack="1")).status_code == 302


def test_the_settings_page_runs_a_fixed_number_of_queries(manager, acme, bob, django_assert_max_num_queries):
    manager.get("/brands/acme/settings/")
    with django_assert_max_num_queries(20):
        assert manager.get("/brands/acme/settings/").status_code == 200
