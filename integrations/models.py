"""
The integrations app's models, each defined beside the part that owns it and listed
here so that Django finds them (one app, one set of migrations: integrations/migrations/).
"""

from .chat.models import LinkPurpose, TelegramAccount, TelegramChat, TelegramLinkCode, TelegramMessage
from .sources.models import Source, SourceKind

__all__ = [
    "LinkPurpose",
    "Source",
    "SourceKind",
    "TelegramAccount",
    "TelegramChat",
    "TelegramLinkCode",
    "TelegramMessage",
]
