"""Tenant scoping fails closed."""

from crisis.tenancy import Principal
from incidents.models import Incident, TimelineEvent


def test_unscoped_queries_return_nothing(file_incident):
    file_incident()
    assert Incident.objects.count() == 0
    assert list(Incident.objects.all()) == []
    assert Incident.objects.filter(title__icontains="angry").count() == 0
    assert TimelineEvent.objects.count() == 0
    assert Incident.all_brands.count() == 1


def test_scoped_queries_return_only_the_callers_brands(file_incident, globex, mallory, bob, root, acme_key):
    ours = file_incident()
    theirs = file_incident(brand=globex, by=mallory)
    assert list(Incident.objects.visible_to(Principal.for_user(bob))) == [ours]
    assert list(Incident.objects.visible_to(Principal.for_user(mallory))) == [theirs]
    assert set(Incident.objects.visible_to(Principal.for_user(root))) == {ours, theirs}
    assert list(Incident.objects.visible_to(Principal.for_key(acme_key))) == [ours]
    assert list(Incident.objects.visible_to(Principal())) == []
    assert list(TimelineEvent.objects.visible_to(Principal.for_user(mallory))) == list(
        TimelineEvent.all_brands.filter(incident=theirs)
    )
