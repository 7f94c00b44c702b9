"""The console's side of invitations: the managers' form and the page the e-mailed link opens."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.utils import timezone

from crisis import services
from crisis.models import Invitation, Membership
from crisis.tenancy import Principal
from incidents import outbox
from incidents.models import Notification

LINK = re.compile(r"https?://[^/\s]+(/invitations/[A-Za-z0-9_-]+/)")


@pytest.fixture(autouse=True)
def _mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SITE_URL = "https://desk.example.test"


@pytest.fixture
def web():
    def _login(user=None):
        client = Client()
        if user is not None:
            client.force_login(user)
        return client

    return _login


@pytest.fixture
def invited(acme, alice):
    """Invite an address to acme as alice; returns (invitation, the link's path) as the e-mail carries it."""

    def _invite(email="erin@example.test", role="responder"):
        invitation = services.invitation_create(
            principal=Principal.for_user(alice), brand=acme, email=email, role=role
        )
        notification = Notification.all_brands.filter(reason="invitation").latest("pk")
        assert outbox.deliver(notification.pk) == "sent"
        return invitation, LINK.search(mail.outbox[-1].body).group(1)

    return _invite


def test_a_manager_invites_and_withdraws_from_the_settings_page(web, acme, alice):
    client = web(alice)
    page = client.get("/brands/acme/settings/").content.decode()
    assert 'id="invitation-form"' in page and 'action="/brands/acme/settings/invitations/"' in page
    sent = client.post(
        "/brands/acme/settings/invitations/", {"email": "erin@example.test", "role": "viewer"}, follow=True
    )
    assert "Invitation sent to erin@example.test." in sent.content.decode()
    invitation = Invitation.all_brands.get()
    assert (invitation.email, invitation.role, invitation.invited_by) == (
        "erin@example.test",
        "viewer",
        alice,
    )
    assert Notification.all_brands.filter(reason="invitation", target="erin@example.test").count() == 1
    assert 'id="invitations"' in sent.content.decode()

    bad = client.post("/brands/acme/settings/invitations/", {"email": "not an address", "role": "viewer"})
    assert bad.status_code == 400 and 'class="field invalid"' in bad.content.decode()
    assert Invitation.all_brands.count() == 1

    withdrawn = client.post(
        "/brands/acme/settings/invitations/revoke/", {"invitation": str(invitation.pk)}, follow=True
    )
    assert "Invitation withdrawn." in withdrawn.content.decode()
    assert Invitation.all_brands.get().revoked_at is not None
    assert 'id="invitations"' not in withdrawn.content.decode()


def test_accept_signed_in_joins_the_brand_once(web, invited, acme, mallory):
    invitation, path = invited(role="viewer")
    client = web(mallory)  # globex's manager, invited to acme at some address: the link is the credential
    page = client.get(path)
    assert page.status_code == 200 and 'id="accept"' in page.content.decode()
    assert "Acme Coffee" in page.content.decode()
    joined = client.post(path, follow=True)
    assert joined.redirect_chain == [("/", 302)]
    assert "You have joined Acme Coffee." in joined.content.decode()
    assert Membership.all_brands.get(brand=acme, user=mallory).role == "viewer"
    invitation.refresh_from_db()
    assert (invitation.accepted_by, invitation.accepted_at is not None) == (mallory, True)
    mallory.refresh_from_db()
    assert mallory.email == ""  # her account is hers: accepting changes nothing of it

    again = client.post(path)
    assert again.status_code == 410
    assert "This invitation has already been used." in again.content.decode()
    assert web(None).get(path).status_code == 410


def test_a_member_who_accepts_keeps_their_role(web, invited, acme, alice, bob):
    _invitation, path = invited(role="viewer")
    response = web(bob).post(path, follow=True)
    assert "You are already a member of Acme Coffee." in response.content.decode()
    assert Membership.all_brands.get(brand=acme, user=bob).role == "responder"


def test_accept_by_creating_an_account(web, invited, acme):
    _invitation, path = invited(email="erin@example.test", role="responder")
    client = web(None)
    page = client.get(path).content.decode()
    assert 'id="signup-form"' in page
    assert f'href="/login/?next={path}"' in page  # or sign in first, and come back

    weak = client.post(path, {"username": "erin", "password": "123", "password_again": "123"})
    assert weak.status_code == 400 and "This password is too short." in weak.content.decode()
    differ = client.post(
        path, {"username": "erin", "password": "long-enough-42-x", "password_again": "long-enough-42-y"}
    )
    assert differ.status_code == 400 and "The two passwords differ." in differ.content.decode()
    taken = client.post(
        path, {"username": "alice", "password": "long-enough-42-x", "password_again": "long-enough-42-x"}
    )
    assert taken.status_code == 400 and "This username is taken; choose another." in taken.content.decode()
    assert not get_user_model().objects.filter(username="erin").exists()
    assert Invitation.all_brands.get().accepted_at is None

    joined = client.post(
        path,
        {"username": "erin", "password": "long-enough-42-x", "password_again": "long-enough-42-x"},
        follow=True,
    )
    assert joined.redirect_chain == [("/", 302)]
    erin = get_user_model().objects.get(username="erin")
    assert erin.email == "erin@example.test" and erin.check_password("long-enough-42-x")
    assert Membership.all_brands.get(brand=acme, user=erin).role == "responder"
    assert client.get("/").status_code == 200  # signed in
    assert client.post(path).status_code == 410  # one use


def test_an_invitation_expires_after_seven_days(web, invited, acme):
    invitation, path = invited()
    with time_machine.travel(invitation.expires_at - timedelta(seconds=1), tick=False):
        assert web(None).get(path).status_code == 200
    with time_machine.travel(invitation.expires_at, tick=False):
        page = web(None).get(path)
        assert page.status_code == 410
        assert "This invitation has expired; ask for a new one." in page.content.decode()
        post = web(None).post(
            path, {"username": "erin", "password": "long-enough-42-x", "password_again": "long-enough-42-x"}
        )
        assert post.status_code == 410
    assert not get_user_model().objects.filter(username="erin").exists()


def test_a_withdrawn_invitation_cannot_be_used(web, invited, acme, mallory):
    invitation, path = invited()
    services.invitation_revoke(invitation=invitation)
    page = web(mallory).post(path)
    assert page.status_code == 410 and "This invitation was withdrawn." in page.content.decode()
    assert not Membership.all_brands.filter(brand=acme, user=mallory).exists()


@pytest.mark.parametrize("token", ["x", "A" * 43, "A" * 100])
def test_an_unknown_link_is_a_clear_404_page(token, web, db):
    page = web(None).get(f"/invitations/{token}/")
    assert page.status_code == 404
    assert "This invitation link is not valid." in page.content.decode()


def test_the_accept_page_in_russian(web, invited, acme):
    _invitation, path = invited()
    page = web(None).get(path, HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "Создать учётную запись" in page


def test_the_service_refuses_a_used_invitation(invited, acme, mallory, bob):
    _invitation, path = invited()
    token = path.strip("/").split("/")[-1]
    services.invitation_accept(token=token, user=mallory)
    with pytest.raises(services.InvitationUnusable):
        services.invitation_accept(token=token, user=bob)
    assert Invitation.all_brands.get().accepted_by == mallory
    assert timezone.now() >= Invitation.all_brands.get().accepted_at
