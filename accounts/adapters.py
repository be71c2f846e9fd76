"""allauth glue: new accounts get the handle they chose at sign-up; emails speak as the site
(SITE_NAME), not as the host they were asked from; the TOTP QR code is one a camera reads."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from io import BytesIO
from urllib.parse import urlsplit

from allauth.account.adapter import DefaultAccountAdapter
from allauth.mfa.adapter import DefaultMFAAdapter
from django.conf import settings
from django.core.exceptions import ValidationError

from .services import profile_update

# The light margin round a QR code, in modules, that the QR specification asks for: a camera
# finds the code by it.
QR_QUIET_ZONE = 4


@dataclass(frozen=True)
class SiteName:
    """What allauth's email templates read as `current_site` (its name and domain). The
    project runs without django.contrib.sites, where allauth falls back to the request's
    host: "Hello from 127.0.0.1:8150!"."""

    name: str
    domain: str


def site_name() -> SiteName:
    return SiteName(name=settings.SITE_NAME, domain=urlsplit(settings.SITE_URL).netloc)


class AccountAdapter(DefaultAccountAdapter):
    def save_user(self, request, user, form, commit=True):
        user = super().save_user(request, user, form, commit=commit)
        handle = form.cleaned_data.get("handle")
        if commit and handle:
            # If someone took the handle between validation and save, the generated one
            # stays; the profile page lets the user pick again.
            with suppress(ValidationError):
                profile_update(profile=user.profile, handle=handle)
        return user

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        # Links in the email are still built from the request (allauth's activate_url).
        super().send_mail(template_prefix, email, {**context, "current_site": site_name()})


class MFAAdapter(DefaultMFAAdapter):
    def build_totp_svg(self, url: str) -> str:
        """allauth draws the code's dark modules on nothing, so on the dark card they were
        black on near-black (about 1.3:1) with no light margin, and phones could not read
        it. Here they sit on white, with the quiet zone, in the image itself."""
        import qrcode
        from qrcode.image.svg import SvgPathFillImage

        image = qrcode.make(url, image_factory=SvgPathFillImage, border=QR_QUIET_ZONE)
        buffer = BytesIO()
        image.save(buffer)
        return buffer.getvalue().decode("utf8")
