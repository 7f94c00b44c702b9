"""
The admin's brand filter offers the signed-in person's brands only (a superuser: all of
them): Django's own lists every brand's name to a staff member of one brand.
"""

import pytest
from django.contrib.auth.models import Permission

from crisis.models import Brand, Membership, Role


@pytest.fixture
def signed_in(client):
    def _sign_in(user):
        user.is_staff = True
        user.save()
        client.force_login(user)
        return client

    return _sign_in


def brand_choices(response) -> list[str]:
    (spec,) = [s for s in response.context["cl"].filter_specs if getattr(s, "field_path", "") == "brand"]
    return [label for _pk, label in spec.lookup_choices]


@pytest.fixture
def alice_in_two_brands(alice):
    # With one brand the filter is not shown at all; with two it lists them, and only them.
    initech = Brand.objects.create(slug="initech", name="Initech")
    Membership.objects.create(brand=initech, user=alice, role=Role.MANAGER)
    return alice


def test_the_admins_brand_filter_lists_the_callers_brands_only(signed_in, alice_in_two_brands, mallory, root):
    client = signed_in(alice_in_two_brands)
    assert brand_choices(client.get("/admin/incidents/incident/")) == ["Acme Coffee", "Initech"]
    client.force_login(root)
    assert brand_choices(client.get("/admin/incidents/incident/")) == ["Acme Coffee", "Globex Air", "Initech"]


def test_every_tenant_admins_brand_filter_lists_the_callers_brands_only(
    signed_in, alice_in_two_brands, mallory
):
    alice = alice_in_two_brands
    alice.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_brandkey", "view_mention", "view_playbook"])
    )
    client = signed_in(alice)
    for path in ("/admin/crisis/brandkey/", "/admin/crisis/mention/", "/admin/playbooks/playbook/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert brand_choices(response) == ["Acme Coffee", "Initech"], path
