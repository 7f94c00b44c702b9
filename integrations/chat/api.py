"""
The Chat endpoints of API.md: linking a person and a brand's group chats, the brand's
linked chats, and the webhook Telegram posts updates to.
"""

import hmac

from django.conf import settings
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from api.errors import Forbidden
from crisis.models import Role
from crisis.permissions import IsUser
from crisis.selectors import brand_for
from crisis.tenancy import Principal
from integrations.inbound.reading import json_body

from . import linking, updates
from .models import TelegramChat

LinkOutput = inline_serializer(
    "TelegramLinkOutput",
    {
        "url": serializers.CharField(),
        "code": serializers.CharField(),
        "expires_at": serializers.DateTimeField(),
    },
)


class TelegramChatOutput(serializers.Serializer):
    id = serializers.IntegerField()
    chat_id = serializers.IntegerField()
    title = serializers.CharField()
    linked_by = serializers.SerializerMethodField()
    linked_at = serializers.DateTimeField()

    def get_linked_by(self, chat) -> str | None:
        return chat.linked_by.get_username() if chat.linked_by_id else None


def _dated(link: dict) -> dict:
    """The answer API.md names: url, code, expires_at."""
    expires_at = serializers.DateTimeField().to_representation(link["expires_at"])
    return {"url": link["url"], "code": link["code"], "expires_at": expires_at}


def _link_answer(make) -> Response:
    """201 with a new code; 503 with Retry-After while Telegram cannot be asked the bot's name."""
    try:
        link = make()
    except linking.TelegramUnavailable as exc:
        return Response(
            exc.as_data(), status=status.HTTP_503_SERVICE_UNAVAILABLE, headers={"Retry-After": "60"}
        )
    return Response(_dated(vars(link)), status=status.HTTP_201_CREATED)


class MyTelegramLinkView(APIView):
    """`POST /api/v1/me/channels/telegram/link/`: a one-time code linking the caller's Telegram."""

    permission_classes = [IsUser]

    @extend_schema(request=None, responses={201: LinkOutput})
    def post(self, request):
        return _link_answer(lambda: linking.link_code_create(user=request.user))


def _managed_brand(request, slug):
    return brand_for(Principal.from_request(request), slug, minimum_role=Role.MANAGER)


class BrandChatLinkView(APIView):
    """`POST /api/v1/brands/{slug}/chats/link/` (managers): a code linking a group chat to the brand."""

    permission_classes = [IsUser]

    @extend_schema(request=None, responses={201: LinkOutput})
    def post(self, request, slug):
        brand = _managed_brand(request, slug)
        return _link_answer(lambda: linking.link_code_create(user=request.user, brand=brand))


class BrandChatListView(GenericAPIView):
    """`GET /api/v1/brands/{slug}/chats/` (managers): the brand's linked group chats, paginated."""

    permission_classes = [IsUser]
    serializer_class = TelegramChatOutput
    queryset = TelegramChat.objects.none()  # for the schema only; rows come through the brand

    def get(self, request, slug):
        brand = _managed_brand(request, slug)
        page = self.paginate_queryset(linking.brand_chats(brand).select_related("linked_by"))
        return self.get_paginated_response(TelegramChatOutput(page, many=True).data)


class BrandChatDetailView(APIView):
    """`DELETE /api/v1/brands/{slug}/chats/{id}/` (managers): unlink a group chat."""

    permission_classes = [IsUser]

    @extend_schema(responses={204: None})
    def delete(self, request, slug, id):
        linking.brand_chat_unlink(brand=_managed_brand(request, slug), chat_pk=int(id))
        return Response(status=status.HTTP_204_NO_CONTENT)


# Telegram's updates are small; a message's text is at most 4,096 characters.
WEBHOOK_BODY_LIMIT = 256 * 1024


@extend_schema(tags=["integrations"], request=None, responses={200: None})
class TelegramWebhookView(APIView):
    """
    `POST /api/v1/integrations/telegram/webhook/`: an update from Telegram. The
    `X-Telegram-Bot-Api-Secret-Token` header must equal `TELEGRAM_WEBHOOK_SECRET` (403
    otherwise, and always while no secret is set: updates then come by long polling).
    """

    authentication_classes = []
    permission_classes = [AllowAny]
    parser_classes = []
    query_parameters = None

    def post(self, request):
        secret = settings.TELEGRAM_WEBHOOK_SECRET
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if (
            not secret
            or not settings.TELEGRAM_BOT_TOKEN
            or not hmac.compare_digest(given.encode(), secret.encode())
        ):
            raise Forbidden()
        update = json_body(request, limit=WEBHOOK_BODY_LIMIT)
        updates.handle_update(update)
        # Telegram retries anything but a 2xx: an update we could not use is still taken.
        return Response({})
