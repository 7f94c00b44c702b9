"""
Parallel writes of one membership on PostgreSQL (issue 16, item 9): adds of the same
person, creations of the same account, acceptances of the same invitation. One
membership each, and never a 5xx.
"""

import pytest

from crisis import services
from crisis.models import Invitation, Membership, Role
from crisis.tenancy import Principal
from tests.conftest import all_at_once, client_for, make_user

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

N = 10


def add(body, brand="acme"):
    def post(client):
        return client.post(f"/api/v1/brands/{brand}/members/", body, format="json").status_code

    return post


def test_parallel_adds_of_one_account_make_one_membership(acme, root, mallory):
    clients = [client_for(root) for _ in range(N)]
    codes = all_at_once(add({"username": "mallory", "role": "responder"}), clients)
    assert codes == [201] * N
    assert Membership.all_brands.filter(brand=acme, user=mallory).count() == 1


def test_parallel_role_changes_by_managers_never_fail(acme, alice, bob):
    managers = [make_user(f"manager{i}", acme, Role.MANAGER) for i in range(N)]
    clients = [client_for(user) for user in managers]
    codes = all_at_once(add({"username": "bob", "role": "viewer"}), clients)
    assert codes == [201] * N
    assert Membership.all_brands.get(brand=acme, user=bob).role == "viewer"


def test_managers_stepping_down_at_once_leave_one_manager(acme, alice):
    """Each checks "another manager remains" under the brand's lock: one of them must stay."""
    managers = [alice] + [make_user(f"manager{i}", acme, Role.MANAGER) for i in range(N - 1)]

    def step_down(user):
        response = client_for(user).post(
            "/api/v1/brands/acme/members/", {"username": user.username, "role": "viewer"}, format="json"
        )
        return response.status_code

    codes = all_at_once(step_down, managers)
    assert sorted(codes) == [201] * (N - 1) + [409]
    assert Membership.all_brands.filter(brand=acme, role=Role.MANAGER).count() == 1


def test_parallel_creations_of_one_account_make_one_account(acme, root):
    from django.contrib.auth import get_user_model

    body = {"username": "erin", "role": "responder", "password": "long-enough-passphrase-42"}
    codes = all_at_once(add(body), [client_for(root) for _ in range(N)])
    # The first creates the account; the others find it and will not set its password again.
    assert sorted(codes) == [201] + [400] * (N - 1)
    assert get_user_model().objects.filter(username="erin").count() == 1
    assert Membership.all_brands.filter(brand=acme, user__username="erin").count() == 1


def test_one_new_account_attached_to_two_brands_at_once(acme, globex, root):
    """Different brands do not wait for each other: the account's unique name decides."""
    from django.contrib.auth import get_user_model

    work = [("acme", client_for(root)) for _ in range(N // 2)] + [
        ("globex", client_for(root)) for _ in range(N // 2)
    ]
    codes = all_at_once(lambda item: add({"username": "erin", "role": "viewer"}, item[0])(item[1]), work)
    assert codes == [201] * N
    erin = get_user_model().objects.get(username="erin")
    assert Membership.all_brands.filter(user=erin).count() == 2


def test_parallel_acceptances_of_one_invitation_make_one_membership(acme, alice):
    invitation = services.invitation_create(
        principal=Principal.for_user(alice), brand=acme, email="team@example.test", role="viewer"
    )
    # The token is only in the e-mail; read it back from the outbox row.
    from incidents.models import Notification

    body = Notification.all_brands.get(reason="invitation").body
    token = body.split("/invitations/")[1].split("/")[0]
    people = [make_user(f"person{i}") for i in range(N)]

    def accept(user):
        try:
            services.invitation_accept(token=token, user=user)
        except services.InvitationUnusable:
            return "used"
        return "joined"

    outcomes = all_at_once(accept, people)
    assert sorted(outcomes) == ["joined"] + ["used"] * (N - 1)
    assert Membership.all_brands.filter(brand=acme, user__in=people).count() == 1
    assert Invitation.all_brands.get(pk=invitation.pk).accepted_by in people
