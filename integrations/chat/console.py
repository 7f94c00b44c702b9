"""
The console's Telegram pages: "My notifications" links the person's Telegram with a
button, brand settings link the brand's group chats (managers); each linked chat can
be sent a test message through the outbox, whose outcome the page shows. The parts
shown inside the desk's pages are `chat/_me.html` and `chat/_brand.html` (with the
`telegram_links` template tags), included by name: the desk imports nothing of ours.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from api.errors import DomainError, Forbidden, NotFound
from crisis.models import Role
from crisis.selectors import brand_for
from crisis.tenancy import Principal

from . import linking


def _managed_brand(request, slug):
    try:
        return brand_for(Principal.for_user(request.user), slug, minimum_role=Role.MANAGER)
    except NotFound:
        raise Http404 from None
    except Forbidden:
        raise PermissionDenied from None


def _link_page(request, link, *, brand=None):
    return render(request, "chat/link.html", {"link": link, "brand": brand})


@login_required
@require_POST
def me_link(request):
    try:
        link = linking.link_code_create(user=request.user)
    except DomainError as exc:
        messages.error(request, str(exc.detail))
        return redirect("console:me")
    return _link_page(request, link)


@login_required
@require_POST
def me_unlink(request):
    linking.person_unlink(user=request.user)
    messages.success(request, _("Telegram is unlinked: the desk no longer messages you there."))
    return redirect("console:me")


def _back(brand):
    response = redirect("console:brand-settings", slug=brand.slug)
    response["Location"] += "#telegram"
    return response


@login_required
@require_POST
def brand_link(request, slug):
    brand = _managed_brand(request, slug)
    try:
        link = linking.link_code_create(user=request.user, brand=brand)
    except DomainError as exc:
        messages.error(request, str(exc.detail))
        return _back(brand)
    return _link_page(request, link, brand=brand)


def _chat(brand, pk):
    chat = linking.brand_chats(brand).filter(pk=pk).first()
    if chat is None:
        raise Http404
    return chat


@login_required
@require_POST
def brand_chat_test(request, slug, pk):
    brand = _managed_brand(request, slug)
    try:
        linking.brand_chat_test(brand=brand, chat=_chat(brand, pk), user=request.user)
    except DomainError as exc:
        messages.error(request, str(exc.detail))
    else:
        messages.success(request, _("Test message on its way: its outcome shows beside the chat."))
    return _back(brand)


@login_required
@require_POST
def brand_chat_unlink(request, slug, pk):
    brand = _managed_brand(request, slug)
    linking.brand_chat_unlink(brand=brand, chat_pk=_chat(brand, pk).pk)
    messages.success(request, _("The chat is unlinked."))
    return _back(brand)
