"""Domain errors of the desk, with the codes API.md promises."""

from django.utils.translation import gettext_lazy as _
from rest_framework import status

from api.errors import Conflict, DomainError


class InvalidTransition(Conflict):
    code = "invalid_transition"
    default_detail = _("This action is not allowed in the incident's current state.")


class AlreadyClaimed(Conflict):
    code = "already_claimed"
    default_detail = _("Someone else has already claimed this incident.")


class StaleVersion(Conflict):
    """A decision about a statement's version that an edit has replaced; `version` is the current one."""

    code = "stale_version"
    default_detail = _("The statement was edited after the version you read.")


class IdempotencyMismatch(DomainError):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    code = "idempotency_mismatch"
    default_detail = _("This Idempotency-Key was used with a different request body.")


class IdempotencyInProgress(Conflict):
    code = "conflict"
    default_detail = _("A request with this Idempotency-Key is still being processed.")


class StepsIncomplete(Conflict):
    code = "steps_incomplete"
    default_detail = _("Required playbook steps are still open.")
