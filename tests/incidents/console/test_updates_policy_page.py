"""
A brand's status-update policy on its settings page (API.md, updates-policy): the cadence per
severity (empty: no update due) and the stakeholders' addresses, checked as the API checks
them, refused on the form with nothing saved, managers only.
"""

import pytest

from incidents import selectors

from .test_settings_forms import assert_sentences, errors_in

pytestmark = pytest.mark.django_db

URL = "/brands/acme/settings/updates/"


def policy_post(emails="", **cadences):
    """Cadences as severity=(amount, unit); a severity left out is empty (no updates due)."""
    data = {"stakeholder_emails": emails}
    for severity in ("critical", "high", "medium", "low"):
        amount, unit = cadences.get(severity, ("", "minutes"))
        data.update({severity: amount, f"{severity}_unit": unit})
    return data


def test_the_page_shows_the_defaults_and_saves_what_the_api_then_reads(web, alice, acme):
    page = web(alice).get("/brands/acme/settings/").content.decode()
    assert 'name="critical" value="30"' in page and 'name="high" value="1"' in page
    assert 'name="medium" value=' not in page  # none due by default
    emails = "pr@acme.example\nCEO@acme.example, ceo@ACME.example; legal@acme.example"
    saved = web(alice).post(
        URL, policy_post(emails, critical=("15", "minutes"), medium=("2", "hours")), follow=True
    )
    assert "Status update policy saved." in saved.content.decode()
    expected = {
        "cadence_seconds": {"critical": 900, "high": None, "medium": 7200, "low": None},
        "stakeholder_emails": ["pr@acme.example", "CEO@acme.example", "legal@acme.example"],
    }
    assert selectors.updates_policy_for(acme.pk) == expected
    assert web(alice).get("/api/v1/brands/acme/updates-policy/").json() == expected
    page = web(alice).get("/brands/acme/settings/").content.decode()
    assert 'name="critical" value="15"' in page and "legal@acme.example</textarea>" in page


@pytest.mark.parametrize(
    "post, expected",
    [
        (policy_post("pr@acme.example\nnot-an-address"), "Not e-mail addresses: not-an-address"),
        (policy_post(critical=("0", "minutes")), "Choose more than zero."),
        (policy_post(critical=("200", "hours")), "Choose at most 168 hours (7 days)."),
        (policy_post(critical=("soon", "minutes")), "Enter a number."),
        (
            policy_post(", ".join(f"p{i}@acme.example" for i in range(51))),
            "Ensure this field has no more than 50",
        ),
    ],
)
def test_a_policy_the_api_would_refuse_is_refused_on_the_form_and_nothing_is_saved(
    web, alice, acme, post, expected
):
    before = selectors.updates_policy_for(acme.pk)
    refused = web(alice).post(URL, post)
    assert refused.status_code == 400
    errors = errors_in(refused)
    assert_sentences(errors)
    assert any(expected in e for e in errors), errors
    assert selectors.updates_policy_for(acme.pk) == before


def test_only_the_brands_managers_set_it(web, bob, mallory, acme):
    before = selectors.updates_policy_for(acme.pk)
    assert web(bob).post(URL, policy_post(critical=("5", "minutes"))).status_code == 403
    assert web(mallory).post(URL, policy_post(critical=("5", "minutes"))).status_code == 404
    assert selectors.updates_policy_for(acme.pk) == before
