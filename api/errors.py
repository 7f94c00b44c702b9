"""
Domain errors and the one exception handler that turns every error into JSON.

Services raise `DomainError` subclasses; they know nothing of HTTP beyond the
status each one maps to. The handler renders them as `{"detail", "code", …}`.
"""

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, InterfaceError, OperationalError
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransition
from rest_framework import status
from rest_framework.exceptions import ErrorDetail
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .text import free_text

logger = logging.getLogger(__name__)


class DomainError(Exception):
    """A request that is well-formed but cannot be carried out in the current state."""

    status_code = status.HTTP_409_CONFLICT
    code = "conflict"
    default_detail = _("The request conflicts with the current state.")

    def __init__(self, detail=None, **extra):
        self.detail = detail if detail is not None else self.default_detail
        self.extra = extra
        super().__init__(str(self.detail))

    def as_data(self) -> dict:
        return {"detail": str(self.detail), "code": self.code, **self.extra}


class Conflict(DomainError):
    pass


class Forbidden(DomainError):
    status_code = status.HTTP_403_FORBIDDEN
    code = "permission_denied"
    default_detail = _("You do not have permission to perform this action.")


class NotFound(DomainError):
    """Raised for rows that do not exist *or* belong to a brand the caller cannot see."""

    status_code = status.HTTP_404_NOT_FOUND
    code = "not_found"
    default_detail = _("Not found.")


class InvalidInput(DomainError):
    """
    Input that parses but breaks a business rule the service checks, naming the field.

    The API renders it as a validation error (`{field: [message]}`), the console's and
    the admin's forms as an error on that field: one rule, three entry points.
    """

    status_code = status.HTTP_400_BAD_REQUEST
    code = "invalid"
    default_detail = _("Invalid input.")

    def __init__(self, detail=None, *, field: str):
        super().__init__(detail)
        self.field = field

    def as_data(self) -> dict:
        detail = self.detail if isinstance(self.detail, dict | list) else [str(self.detail)]
        return {self.field: detail}


# For errors Django raises itself (Http404, PermissionDenied), which carry no code.
_CODE_BY_STATUS = {403: "permission_denied", 404: "not_found"}


def exception_handler(exc, context):
    """DRF's handler, plus domain errors and a 503 when the database is unreachable."""
    response = _answer(exc, context)
    if response is not None:
        # An error may echo the input (`"\ud800" is not a valid choice`); a lone surrogate
        # cannot be sent as UTF-8 and NUL helps nobody (API.md, "Conventions": text hygiene).
        response.data = _printable(response.data)
    return response


def _printable(data):
    if isinstance(data, str):
        cleaned = free_text(data)
        if cleaned == data:
            return data
        return ErrorDetail(cleaned, code=data.code) if isinstance(data, ErrorDetail) else cleaned
    if isinstance(data, dict):
        return {_printable(key): _printable(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [_printable(item) for item in data]
    return data


def _answer(exc, context):
    request = context.get("request")
    if (
        request is not None
        and getattr(request, "accepted_renderer", None) is not None
        and request.accepted_renderer.format == "csv"
    ):
        # Errors are JSON even when the caller asked for a CSV export.
        request.accepted_renderer, request.accepted_media_type = JSONRenderer(), "application/json"
    if isinstance(exc, DomainError):
        return Response(exc.as_data(), status=exc.status_code)
    if isinstance(exc, RequestDataTooBig):
        return Response(
            {
                "detail": str(_("The request body is larger than %(limit)d bytes."))
                % {"limit": settings.DATA_UPLOAD_MAX_MEMORY_SIZE},
                "code": "too_large",
            },
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, ConcurrentTransition):
        # Someone changed the state between our read and our write; services
        # lock rows so this should not happen, but if it does it is a conflict.
        return Response(
            {"detail": str(Conflict.default_detail), "code": Conflict.code}, status=status.HTTP_409_CONFLICT
        )
    response = drf_exception_handler(exc, context)
    if response is not None:
        if isinstance(response.data, dict) and "detail" in response.data:
            code = getattr(getattr(exc, "detail", None), "code", None)
            response.data.setdefault("code", code or _CODE_BY_STATUS.get(response.status_code, "error"))
        return response
    if isinstance(exc, OperationalError | InterfaceError):
        # Lost connection, lock timeout, database restarting: the client should
        # retry; nothing was committed because the request's transaction failed.
        logger.warning("database unavailable: %s", exc)
        return Response(
            {"detail": str(_("The database is unavailable; retry shortly.")), "code": "unavailable"},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "5"},
        )
    if isinstance(exc, DatabaseError):
        logger.exception("database error")
    return None
