"""Authentication schemes of the API: hashed expiring user tokens and hashed brand keys."""

from django.contrib.auth.models import AnonymousUser
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from .models import BrandKey


class TokenAuthentication(KnoxTokenAuthentication):
    """Knox tokens (`Authorization: Token <token>`), with garbage in the header a 401, not a 500."""

    def authenticate_credentials(self, token):
        try:
            token.decode("utf-8")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from None
        return super().authenticate_credentials(token)

    def _cleanup_token(self, auth_token) -> bool:
        # knox walks all the user's tokens on every request to delete expired ones
        # (a query per request, growing with the user's sessions); here only the
        # presented token is judged, and housekeeping purges the rest.
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            auth_token.delete()
            return True
        return False


class IntegrationKeyAuthentication(BaseAuthentication):
    """
    `Authorization: Api-Key <key>` for monitoring tools.

    The request's user stays anonymous; `request.auth` is the `BrandKey`, and
    `Principal.from_request` turns it into a caller scoped to that one brand.
    """

    keyword = b"api-key"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(_("Invalid Api-Key header."))
        try:
            plain = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(_("Invalid integration key.")) from None
        key = BrandKey.from_plain(plain)
        if key is None:
            raise exceptions.AuthenticationFailed(_("Invalid integration key."))
        return AnonymousUser(), key

    def authenticate_header(self, request):
        return "Api-Key"


class IntegrationKeyScheme(OpenApiAuthenticationExtension):
    target_class = IntegrationKeyAuthentication
    name = "integrationKey"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization", "description": "`Api-Key <key>`"}


class TokenScheme(OpenApiAuthenticationExtension):
    target_class = TokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization", "description": "`Token <token>`"}
