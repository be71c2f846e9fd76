"""The sign-up and sign-in pages speak the site's words, and each error sits with its field."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

BAD = {"email": "not-an-email", "handle": "ok.handle", "password1": "12345", "password2": "54321"}


def _field_blocks(body: str) -> dict[str, str]:
    """Each field's block on the page, from its label to the next field's label."""
    form = re.search(r'<form[^>]*action="/accounts/signup/".*?</form>', body, re.S).group(0)
    labels = list(re.finditer(r'<label for="id_(\w+)"', form))
    return {
        label.group(1): form[label.start() : nxt.start() if nxt else len(form)]
        for label, nxt in zip(labels, [*labels[1:], None], strict=True)
    }


def test_each_error_sits_inside_its_own_field(client):
    body = client.post("/accounts/signup/", BAD).content.decode()
    blocks = _field_blocks(body)
    assert "Enter a valid email address." in blocks["email"]
    assert "too short" in blocks["password1"]
    # Nothing of the email's error before its label, nor in the field after it.
    form = re.search(r'<form[^>]*action="/accounts/signup/".*?</form>', body, re.S).group(0)
    assert form.index("Enter a valid email address.") > form.index('<label for="id_email"')
    assert "Enter a valid email address." not in blocks["handle"]
    assert "too short" not in blocks["password2"]


def test_a_mismatch_is_told_at_the_repeated_password(client):
    mismatch = {**BAD, "email": "ok@example.com", "password1": PASSWORD, "password2": "other"}
    blocks = _field_blocks(client.post("/accounts/signup/", mismatch).content.decode())
    assert "You must type the same password each time." in blocks["password2"]
    assert "same password" not in blocks["password1"]


def test_errors_are_tied_to_their_inputs_for_screen_readers(client):
    body = client.post("/accounts/signup/", BAD).content.decode()
    described = re.search(r'<input[^>]*name="email"[^>]*aria-describedby="([^"]+)"', body).group(1)
    for element_id in described.split():
        assert f'id="{element_id}"' in body


def test_the_password_rules_show_once(client):
    for response in (client.get("/accounts/signup/"), client.post("/accounts/signup/", BAD)):
        body = response.content.decode()
        assert body.count("8 characters") == 1, body.count("8 characters")
        assert "can’t be entirely numeric" not in body


def test_signup_page_speaks_the_sites_words(client):
    body = client.get("/accounts/signup/").content.decode()
    for stock in ("Sign Up", "Then please", "Signup", "Password (again)"):
        assert stock not in body
    assert not re.search(r"<label[^>]*>[^<]*:\s*</label>", body), "a label ends with a colon"
    assert "<h1>Create your account</h1>" in body
    assert re.search(r'<button[^>]*type="submit"[^>]*>\s*Sign up\s*</button>', body)
    assert 'href="/accounts/login/"' in body


def test_login_page_speaks_the_sites_words(client):
    body = client.get("/accounts/login/").content.decode()
    for stock in ("Sign In", "then please", "If you have not created an account yet"):
        assert stock not in body
    assert not re.search(r"<label[^>]*>[^<]*:\s*</label>", body), "a label ends with a colon"
    assert re.search(r'<button[^>]*type="submit"[^>]*>\s*Sign in\s*</button>', body)
    assert 'href="/accounts/signup/"' in body


def test_the_verification_email_is_from_giftcast_not_the_host(client):
    client.post(
        "/accounts/signup/",
        {
            "email": "hi@example.com",
            "handle": "hi.there",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
        HTTP_HOST="127.0.0.1:8150",
    )
    message = mail.outbox[-1]
    assert "Giftcast" in message.body
    assert "127.0.0.1" not in message.body.replace(_link(message.body), "")
    assert "Hello from" not in message.body
    assert message.subject.startswith("[Giftcast] ")


def _link(body: str) -> str:
    return re.search(r"https?://\S+", body).group(0)


@pytest.mark.parametrize("form", ["change", "reset"])
def test_new_password_forms_say_the_rules_once_too(client, user, form):
    if form == "change":
        client.force_login(user)
        body = client.get("/accounts/password/change/").content.decode()
    else:
        from allauth.account.forms import default_token_generator
        from allauth.account.utils import user_pk_to_url_str

        key = default_token_generator.make_token(user)
        url = f"/accounts/password/reset/key/{user_pk_to_url_str(user)}-{key}/"
        body = client.get(client.get(url)["Location"]).content.decode()
    assert body.count("8 characters") == 1
    assert "(again)" not in body
    assert not re.search(r"<label[^>]*>[^<]*:\s*</label>", body)
