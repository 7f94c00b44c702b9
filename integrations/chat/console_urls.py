"""The console's Telegram URLs (namespace `telegram`)."""

from django.urls import path

from . import console

app_name = "telegram"

urlpatterns = [
    path("me/telegram/link/", console.me_link, name="me-link"),
    path("me/telegram/unlink/", console.me_unlink, name="me-unlink"),
    path("brands/<slug:slug>/settings/telegram/link/", console.brand_link, name="brand-link"),
    path(
        "brands/<slug:slug>/settings/telegram/<int:pk>/test/", console.brand_chat_test, name="brand-chat-test"
    ),
    path(
        "brands/<slug:slug>/settings/telegram/<int:pk>/unlink/",
        console.brand_chat_unlink,
        name="brand-chat-unlink",
    ),
]
