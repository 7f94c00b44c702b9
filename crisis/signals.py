"""
A password change or a deactivation revokes all of the person's API tokens.

Done on the user model's save, so that every path revokes: the console, the admin's
forms, `manage.py changepassword`, `set_password()` and `save()` anywhere. Django logs
the console's other sessions out by itself (the session holds a hash of the password);
knox tokens know nothing of the password, hence this.
"""

from django.conf import settings
from django.contrib.auth.hashers import is_password_usable
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver
from knox.models import AuthToken

_WATCHED = {"password", "is_active"}


@receiver(pre_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="crisis.tokens_note_credentials")
def _note_credentials_change(sender, instance, update_fields=None, **kwargs):
    """Compare the password hash and `is_active` with the stored row before it is overwritten."""
    instance._crisis_revoke_tokens = False
    if instance._state.adding or instance.pk is None:
        return
    if update_fields is not None and not _WATCHED & set(update_fields):
        return  # e.g. `last_login` at each login: no read
    stored = sender._base_manager.filter(pk=instance.pk).values("password", "is_active").first()
    if stored is None:
        return
    # A new hash with no new password set is Django upgrading the hash of the same
    # password at login (check_password's setter clears `_password`, as Django's own
    # "hash upgrades are not password changes" says); an unusable hash locks the person out.
    new_password = instance._password is not None or not is_password_usable(instance.password)
    password_changed = stored["password"] != instance.password and new_password
    deactivated = stored["is_active"] and not instance.is_active
    instance._crisis_revoke_tokens = password_changed or deactivated


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="crisis.tokens_revoke")
def _revoke_tokens(sender, instance, **kwargs):
    """After the save, in its transaction: a rolled-back change revokes nothing."""
    if getattr(instance, "_crisis_revoke_tokens", False):
        instance._crisis_revoke_tokens = False
        AuthToken.objects.filter(user=instance).delete()
