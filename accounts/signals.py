"""Every user has a profile, however the user was made (signup, admin, createsuperuser)."""

from django.db.models.signals import post_save
from django.dispatch import receiver

from .models import Profile, User
from .services import profile_create


@receiver(post_save, sender=User, dispatch_uid="accounts_user_profile")
def ensure_profile(sender, instance: User, created: bool, raw: bool = False, **kwargs) -> None:
    if created and not raw and not Profile.objects.filter(user=instance).exists():
        profile_create(user=instance)
