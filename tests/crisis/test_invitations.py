"""
People join a brand by invitation (API.md, "Brands, members, policies"): managers
invite by e-mail and change the roles of their own members only; nothing tells a
manager whether an account exists, or shows the e-mail of anyone outside the brand.
"""

import re

import pytest
from django.core import mail

from crisis import services
from crisis.models import Invitation, Membership
from incidents import outbox
from incidents.models import Notification

LINK = re.compile(r"(https?://\S+/invitations/([A-Za-z0-9_-]+)/)")


@pytest.fixture
def emails(alice, bob, mallory, root, settings):
    """Everyone has an address; the e-mails are kept in memory; links point at the public site."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SITE_URL = "https://desk.example.test/"
    for user in (alice, bob, mallory, root):
        user.email = f"{user.username}@{user.username}-mail.test"
        user.save()
    return {user.username: user.email for user in (alice, bob, mallory, root)}


def invite(client, email="erin@example.test", role="responder", **extra):
    return client.post(
        "/api/v1/brands/acme/invitations/", {"email": email, "role": role, **extra}, format="json"
    )


def test_an_invitation_is_an_email_in_the_outbox_with_a_one_use_link(api, alice, acme, emails):
    response = invite(api(alice), email="Erin@Example.TEST", is_executive=True)
    assert response.status_code == 202
    invitation = Invitation.all_brands.get()
    assert response.data == {
        "id": invitation.pk,
        "email": "Erin@example.test",
        "role": "responder",
        "is_executive": True,
        "invited_by": "alice",
        "created_at": response.data["created_at"],
        "expires_at": response.data["expires_at"],
    }
    assert (invitation.expires_at - invitation.created_at).days == 7

    # Not sent inline: one notification row, about the brand and no incident, for an address.
    assert mail.outbox == []
    notification = Notification.all_brands.get()
    assert (notification.brand_id, notification.incident_id, notification.recipient_id) == (
        acme.pk,
        None,
        None,
    )
    assert (notification.channel, notification.target, notification.reason) == (
        "email",
        "Erin@example.test",
        "invitation",
    )
    assert outbox.deliver(notification.pk) == "sent"
    assert outbox.deliver(notification.pk) == "skipped"
    (sent,) = mail.outbox
    assert sent.to == ["Erin@example.test"]
    assert sent.subject == "You are invited to Acme Coffee on Crisis Desk"
    assert "alice invites you to join Acme Coffee on Crisis Desk as Responder." in sent.body
    url, token = LINK.search(sent.body).groups()
    assert url == f"https://desk.example.test/invitations/{token}/"
    # Only the link carries the token: the invitation keeps its digest.
    assert token not in invitation.token_hash and invitation.token_hash == Invitation.digest(token)
    assert token not in str(response.data)
    assert Invitation.from_token(token) == invitation


def test_the_email_is_written_in_the_brands_language(api, alice, acme, emails):
    acme.language = "ru"
    acme.save()
    invite(api(alice))
    notification = Notification.all_brands.get()
    assert notification.subject == "Приглашение в Acme Coffee — Crisis Desk"
    assert "в роли «Дежурный»" in notification.body


def test_pending_invitations_are_listed_and_revoked_by_managers(api, alice, bob, mallory, acme, emails):
    client = api(alice)
    first = invite(client, email="erin@example.test").data
    second = invite(client, email="frank@example.test", role="viewer").data
    listed = client.get("/api/v1/brands/acme/invitations/").data["results"]
    assert [i["email"] for i in listed] == ["frank@example.test", "erin@example.test"]

    assert api(bob).get("/api/v1/brands/acme/invitations/").status_code == 403
    assert api(bob).delete(f"/api/v1/brands/acme/invitations/{first['id']}/").status_code == 403
    assert api(mallory).delete(f"/api/v1/brands/acme/invitations/{first['id']}/").status_code == 404
    assert api(mallory).delete(f"/api/v1/brands/globex/invitations/{first['id']}/").status_code == 404

    assert client.delete(f"/api/v1/brands/acme/invitations/{first['id']}/").status_code == 204
    assert client.delete(f"/api/v1/brands/acme/invitations/{first['id']}/").status_code == 404
    assert client.delete("/api/v1/brands/acme/invitations/999999/").status_code == 404
    assert [i["id"] for i in client.get("/api/v1/brands/acme/invitations/").data["results"]] == [second["id"]]
    assert Invitation.all_brands.get(pk=first["id"]).revoked_at is not None


def test_a_new_invitation_to_the_same_address_replaces_the_pending_one(api, alice, acme, emails):
    first = invite(api(alice)).data
    second = invite(api(alice), role="manager").data
    assert Invitation.all_brands.get(pk=first["id"]).revoked_at is not None
    listed = api(alice).get("/api/v1/brands/acme/invitations/").data["results"]
    assert [(i["id"], i["role"]) for i in listed] == [(second["id"], "manager")]


def test_pending_invitations_are_capped(api, alice, acme, emails, monkeypatch):
    monkeypatch.setattr(services, "MAX_PENDING_INVITATIONS", 2)
    assert invite(api(alice), email="a@example.test").status_code == 202
    assert invite(api(alice), email="b@example.test").status_code == 202
    refused = invite(api(alice), email="c@example.test")
    assert refused.status_code == 409
    assert Invitation.all_brands.count() == Notification.all_brands.count() == 2


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-address", "role": "responder"},
        {"email": "erin@example.test", "role": "owner"},
        {"email": "erin@example.test", "role": "responder", "password": "x"},
        {"email": "erin@example.test"},
    ],
)
def test_bad_invitations_are_400_and_send_nothing(body, api, alice, acme, emails):
    response = api(alice).post("/api/v1/brands/acme/invitations/", body, format="json")
    assert response.status_code == 400
    assert not Invitation.all_brands.exists() and not Notification.all_brands.exists()


def test_a_superuser_invites_too(api, root, acme, emails):
    assert invite(api(root)).status_code == 202
    assert Invitation.all_brands.get().invited_by == root


# --- Managers change their own members' roles; anyone else is invited ------------------


NON_MEMBERS = ["mallory", "root", "loner", "nobody-at-all"]


@pytest.mark.parametrize(
    "extra",
    [{}, {"email": "new@example.test"}, {"password": "long-enough-passphrase-42"}],
    ids=["role", "email", "password"],
)
def test_a_non_member_username_gets_one_answer_whether_or_not_the_account_exists(
    extra, api, alice, acme, emails
):
    from tests.conftest import make_user

    make_user("loner", email="loner@loner-mail.test")  # an account in no brand
    answers = [
        api(alice).post(
            "/api/v1/brands/acme/members/", {"username": name, "role": "viewer", **extra}, format="json"
        )
        for name in NON_MEMBERS
    ]
    assert {a.status_code for a in answers} == {400}
    assert [a.content for a in answers] == [answers[0].content] * len(NON_MEMBERS)
    assert answers[0].json() == {"username": ["Not a member of this brand: invite them by e-mail."]}
    assert not Membership.all_brands.filter(brand=acme, user__username__in=NON_MEMBERS).exists()


def test_a_manager_changes_a_members_role_but_not_their_password_or_address(api, alice, bob, acme, emails):
    changed = api(alice).post(
        "/api/v1/brands/acme/members/",
        {"username": "bob", "role": "manager", "is_executive": True},
        format="json",
    )
    assert changed.status_code == 201
    assert (changed.data["email"], changed.data["role"], changed.data["is_executive"]) == (
        emails["bob"],
        "manager",
        True,
    )
    for extra in ({"password": "hijack-attempt-123456"}, {"email": "bob@attacker.test"}):
        refused = api(alice).post(
            "/api/v1/brands/acme/members/", {"username": "bob", "role": "viewer", **extra}, format="json"
        )
        assert refused.status_code == 400
    bob.refresh_from_db()
    assert bob.check_password("x-bob") and bob.email == emails["bob"]
    assert Membership.all_brands.get(user=bob).role == "manager"


def test_no_answer_shows_the_email_of_anyone_outside_the_brand(api, alice, bob, acme, globex, emails):
    client = api(alice)
    answers = [
        client.get("/api/v1/brands/acme/members/"),
        invite(client, email="erin@example.test"),
        client.get("/api/v1/brands/acme/invitations/"),
        client.post("/api/v1/brands/acme/members/", {"username": "mallory", "role": "viewer"}, format="json"),
        client.post(
            "/api/v1/brands/acme/members/",
            {"username": "mallory", "role": "viewer", "email": emails["mallory"]},
            format="json",
        ),
        client.post("/api/v1/brands/acme/members/", {"username": "root", "role": "manager"}, format="json"),
        client.delete("/api/v1/brands/acme/members/mallory/"),
        client.get("/api/v1/brands/globex/members/"),
    ]
    seen = b"".join(a.content for a in answers).decode()
    assert emails["mallory"] not in seen and emails["root"] not in seen
    assert emails["bob"] in seen  # a member of the brand


def test_an_invitation_to_an_existing_accounts_address_is_answered_as_any_other(api, alice, acme, emails):
    known = invite(api(alice), email=emails["mallory"])
    unknown = invite(api(alice), email="nobody@nowhere.test")
    assert known.status_code == unknown.status_code == 202
    assert set(known.data) == set(unknown.data)
    assert not Membership.all_brands.filter(brand=acme, user__username="mallory").exists()


def test_the_admin_attaches_accounts_for_superusers_only(client, alice, root, acme, emails):
    from django.contrib.auth.models import Permission

    alice.is_staff = True
    alice.save()
    alice.user_permissions.set(Permission.objects.filter(content_type__app_label="crisis"))
    client.force_login(alice)
    assert client.get("/admin/crisis/membership/add/").status_code == 403
    membership = Membership.all_brands.get(user=alice)
    page = client.get(f"/admin/crisis/membership/{membership.pk}/change/")
    assert page.status_code == 200 and 'name="user"' not in page.content.decode()
    assert client.get("/admin/crisis/invitation/").status_code == 200
    client.force_login(root)
    assert client.get("/admin/crisis/membership/add/").status_code == 200


def test_listing_invitations_takes_the_same_queries_for_two_or_twenty(
    api, alice, acme, emails, django_assert_num_queries
):
    client = api(alice)
    for count in (2, 20):
        while Invitation.all_brands.count() < count:
            assert invite(client, email=f"p{Invitation.all_brands.count()}@example.test").status_code == 202
        # token, roles, brand, count, page (with who invited, joined)
        with django_assert_num_queries(5):
            assert len(client.get("/api/v1/brands/acme/invitations/").data["results"]) == count
