"""A newcomer's first minutes, in a browser: the 404 page as production serves it, the
favicon, the 2FA QR code a camera can read, and the avatar picker by keyboard."""

from __future__ import annotations

import base64
import io
import re

import pytest
from playwright.sync_api import expect

from tests.accounts.factories import UserFactory
from tests.conftest import PASSWORD
from tests.e2e.conftest import DESKTOP, PHONE

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

SIZES = {"desktop": DESKTOP, "phone": PHONE}
QUIET_ZONE = 4  # modules


def _sign_in(page, base: str, email: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(f"{base}/")


@pytest.mark.parametrize("size", SIZES)
def test_the_404_page_with_its_way_back_and_no_missing_icon(live_server, open_page, shot, size):
    """The live server runs the test settings: DEBUG is off, as in production."""
    page = open_page(live_server.url, viewport=SIZES[size])
    missing: list[str] = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)

    response = page.goto(f"{live_server.url}/no/such/page/")
    assert response.status == 404
    expect(page.get_by_role("heading", name="Nothing here")).to_be_visible()
    expect(page.locator(".error-page .code")).to_have_text("404")
    shot(page, f"first-404-{size}")
    icon = page.request.get(f"{live_server.url}/favicon.ico")
    assert icon.ok and icon.headers["content-type"] in {"image/x-icon", "image/vnd.microsoft.icon"}
    assert missing == [f"{live_server.url}/no/such/page/"]  # the page only: icons, CSS all there

    page.get_by_role("link", name="Back to Giftcast").click()
    expect(page).to_have_url(f"{live_server.url}/")


def test_the_totp_qr_code_is_dark_on_white_with_a_quiet_zone(live_server, open_page, shot):
    from PIL import Image

    user = UserFactory(password=PASSWORD)
    page = open_page(live_server.url, viewport=PHONE)
    _sign_in(page, live_server.url, user.email)
    page.goto(f"{live_server.url}/accounts/2fa/totp/activate/")
    expect(page).to_have_url(re.compile(r"/accounts/reauthenticate/"))
    page.fill("input[name=password]", PASSWORD)
    page.locator("main form [type=submit]").first.click()
    page.goto(f"{live_server.url}/accounts/2fa/totp/activate/")
    qr = page.locator("img.qr")
    expect(qr).to_be_visible()
    shot(page, "first-totp-phone")

    svg = base64.b64decode(qr.get_attribute("src").split(",", 1)[1]).decode()
    across = float(re.search(r'viewBox="0 0 ([\d.]+) ', svg).group(1))  # modules, margin in
    image = Image.open(io.BytesIO(qr.screenshot())).convert("L")
    width, height = image.size
    pixels = image.load()
    darkest, lightest = min(image.getdata()), max(image.getdata())
    contrast = (_luminance(lightest) + 0.05) / (_luminance(darkest) + 0.05)
    assert contrast > 15, f"modules against their background: {contrast:.1f}:1"
    # The quiet zone, QUIET_ZONE modules wide round the code, is all light.
    margin = int(width * QUIET_ZONE / across) - 1
    # (The element's outermost pixel row may blend with the card where it sits off the grid.)
    border = [pixels[x, y] for x in range(1, width - 1) for y in range(1, height - 1)
              if x < margin or y < margin or x >= width - margin or y >= height - margin]  # fmt: skip
    assert min(border) > 200, "the quiet zone is not light"
    inside = [pixels[x, y] for x in range(margin + 2, width - margin - 2) for y in range(margin + 2, height - margin - 2)]  # fmt: skip
    assert min(inside) < 60, "no dark modules"


def _luminance(grey: int) -> float:
    """WCAG relative luminance of an sRGB grey level."""
    c = grey / 255
    return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4


def test_the_avatar_picker_by_keyboard_with_a_preview(live_server, open_page, shot, tmp_path):
    from PIL import Image

    user = UserFactory(password=PASSWORD)
    picture = tmp_path / "me.png"
    Image.new("RGB", (64, 64), (0, 160, 255)).save(picture)
    page = open_page(live_server.url)
    _sign_in(page, live_server.url, user.email)
    page.goto(f"{live_server.url}/accounts/profile/")

    button = page.locator("label.picker-button")
    expect(button).to_have_text("Choose a picture")
    page.get_by_label("Display name").focus()
    page.keyboard.press("Tab")  # the next stop is the (visually hidden) file input
    focused = page.evaluate("document.activeElement.name")
    assert focused == "avatar"
    outline = button.evaluate("el => getComputedStyle(el).outlineStyle")
    assert outline == "solid", "the button shows no focus while its input has it"

    page.set_input_files("input[name=avatar]", str(picture))
    preview = page.locator("[data-picture-preview] img")
    expect(preview).to_have_attribute("src", re.compile(r"^blob:"))
    expect(page.locator("[data-picture-name]")).to_have_text("me.png")
    expect(button).to_have_text("Choose another")
    shot(page, "first-avatar-chosen-desktop")

    page.get_by_role("button", name="Save profile").click()
    expect(page).to_have_url(f"{live_server.url}/@{user.profile.handle}/")
    page.goto(f"{live_server.url}/accounts/profile/")
    expect(preview).to_have_attribute("src", re.compile(r"^/media/"))
    expect(button).to_have_text("Change picture")
    expect(page.get_by_label("Remove picture")).to_be_visible()
