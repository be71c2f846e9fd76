"""The TOTP QR code is one a phone camera reads: dark modules on white, with a quiet zone."""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET

import pytest

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

SVG = "{http://www.w3.org/2000/svg}"
QUIET_ZONE = 4  # modules of light margin the QR specification asks for


def _activation_page(client, user) -> str:
    client.force_login(user)
    response = client.get("/accounts/2fa/totp/activate/")
    client.post(response["Location"], {"password": PASSWORD})
    response = client.get("/accounts/2fa/totp/activate/")
    assert response.status_code == 200
    return response.content.decode()


def _qr(body: str) -> tuple[ET.Element, re.Match]:
    img = re.search(r'<img[^>]*src="data:image/svg\+xml;base64,([^"]+)"[^>]*>', body)
    return ET.fromstring(base64.b64decode(img.group(1))), img


def test_the_qr_code_is_dark_on_white_with_a_quiet_zone(client, user):
    svg, _ = _qr(_activation_page(client, user))
    _, _, width, height = (float(v) for v in svg.get("viewBox").split())
    background = svg.find(f"{SVG}rect")
    assert background is not None, "no background: the modules sit on whatever the card is"
    assert background.get("fill") in {"white", "#fff", "#ffffff"}
    assert (background.get("width"), background.get("height")) == ("100%", "100%")
    path = svg.find(f"{SVG}path")
    assert path.get("fill") in {None, "black", "#000", "#000000"}
    coordinates = [float(n) for n in re.findall(r"\d+(?:\.\d+)?", path.get("d"))]
    assert min(coordinates) >= QUIET_ZONE
    assert max(coordinates) <= min(width, height) - QUIET_ZONE


def test_the_qr_code_has_a_frame_of_its_own_and_words_for_screen_readers(client, user):
    _, img = _qr(_activation_page(client, user))
    assert 'class="qr"' in img.group(0)
    assert re.search(r'alt="[^"]*QR code[^"]*"', img.group(0))
