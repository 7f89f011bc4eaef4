"""Who may read the console: instructor tokens only, by form or bearer; never the API token."""

from __future__ import annotations

import pytest

from hint_api.console.auth import token_matches
from settings import SettingsError, load_settings
from tests.console.conftest import form_csrf
from tests.console.support import API_TOKEN, CONSOLE_TOKEN, SECOND_CONSOLE_TOKEN, make_app

PAGES = [
    "/console/",
    "/console/requests",
    "/console/requests?outcome=failed",
    "/console/requests/1001",
    "/console/requests/1001/program/student.txt",
    "/console/dashboards",
    "/console/export.csv",
    "/console/export.jsonl",
    "/console/no-such-page",
    "/console/requests/424242",
]
STUDENT_TEXT = ("Jane Doe", "factorial", "result *= i", "What value does result hold")


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_visitors_are_sent_to_the_login_page_and_see_nothing(client, path):
    answer = client.get(path)
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/console/login?next=")
    body = answer.get_data(as_text=True)
    assert not any(text in body for text in STUDENT_TEXT)


@pytest.mark.parametrize("path", PAGES[1:8])
def test_a_console_token_as_bearer_opens_every_page(client, bearer, path):
    assert client.get(path, headers=bearer).status_code == 200


def test_both_configured_console_tokens_work(client):
    for token in (CONSOLE_TOKEN, SECOND_CONSOLE_TOKEN):
        assert (
            client.get("/console/requests", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        )


@pytest.mark.parametrize("token", [API_TOKEN, "console-token-0123456789abcdeX", CONSOLE_TOKEN[:-1], ""])
def test_a_wrong_bearer_token_is_refused_with_401(client, token):
    answer = client.get("/console/requests/1001", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert "Jane Doe" not in answer.get_data(as_text=True)


def test_the_api_token_does_not_open_the_console_and_the_console_token_does_not_open_the_api(client):
    api = {"Authorization": f"Bearer {API_TOKEN}"}
    console = {"Authorization": f"Bearer {CONSOLE_TOKEN}"}
    # The API token opens the API ...
    assert client.get("/ai_hint/trace/?request_id=1001", headers=api).status_code == 200
    # ... but not the console, by bearer or through the login form.
    assert client.get("/console/export.csv", headers=api).status_code == 401
    csrf = form_csrf(client.get("/console/login").get_data(as_text=True))
    assert client.post("/console/login", data={"csrf": csrf, "token": API_TOKEN}).status_code == 401
    assert client.get("/console/requests").status_code == 302
    # The console token opens the console but none of the API.
    assert client.get("/console/requests/1001", headers=console).status_code == 200
    for path in ("/ai_hint/trace/?request_id=1001", "/ai_hint/query_hint/?request_id=1001"):
        assert client.get(path, headers=console).status_code == 401


def test_logging_in_through_the_form_opens_a_session_and_logging_out_ends_it(console_app):
    browser = console_app.test_client()
    login_page = browser.get("/console/login?next=/console/requests/1001")
    assert login_page.status_code == 200 and 'type="password"' in login_page.get_data(as_text=True)
    csrf = form_csrf(login_page.get_data(as_text=True))
    answer = browser.post(
        "/console/login", data={"csrf": csrf, "token": CONSOLE_TOKEN, "next": "/console/requests/1001"}
    )
    assert answer.status_code == 302 and answer.headers["Location"] == "/console/requests/1001"
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/console" in cookie
    page = browser.get("/console/requests/1001")
    assert page.status_code == 200 and "Jane Doe" in page.get_data(as_text=True)

    logout_csrf = form_csrf(page.get_data(as_text=True))
    assert logout_csrf != csrf  # logging in rotates the CSRF token
    assert browser.post("/console/logout", data={"csrf": logout_csrf}).status_code == 302
    assert browser.get("/console/requests/1001").status_code == 302


def test_a_wrong_token_in_the_form_is_refused(console_app):
    browser = console_app.test_client()
    csrf = form_csrf(browser.get("/console/login").get_data(as_text=True))
    answer = browser.post("/console/login", data={"csrf": csrf, "token": "not-the-token-at-all-123"})
    assert answer.status_code == 401 and "Wrong token" in answer.get_data(as_text=True)
    assert browser.get("/console/requests").status_code == 302


def test_form_posts_without_the_csrf_token_are_refused(console_app, logged_in):
    fresh = console_app.test_client()
    fresh.get("/console/login")
    assert fresh.post("/console/login", data={"token": CONSOLE_TOKEN}).status_code == 400
    assert fresh.post("/console/login", data={"token": CONSOLE_TOKEN, "csrf": "guess"}).status_code == 400
    assert fresh.get("/console/requests").status_code == 302  # not logged in
    # A cross-site form cannot log the instructor out either.
    assert logged_in.post("/console/logout", data={"csrf": "guess"}).status_code == 400
    assert logged_in.get("/console/requests").status_code == 200


def test_anonymous_posts_are_refused(client):
    assert client.post("/console/logout").status_code == 401


def test_a_forged_session_cookie_is_ignored(console_app):
    browser = console_app.test_client()
    browser.set_cookie("hint_console", '{"csrf": "x", "fp": "y"}', path="/console")
    assert browser.get("/console/requests").status_code == 302


def test_sessions_end_when_their_token_is_removed(database_url):
    secret = "s" * 40
    before = make_app(database_url, HINT_CONSOLE_SECRET_KEY=secret)
    browser = before.test_client()
    csrf = form_csrf(browser.get("/console/login").get_data(as_text=True))
    browser.post("/console/login", data={"csrf": csrf, "token": SECOND_CONSOLE_TOKEN})
    cookie = browser.get_cookie("hint_console", path="/console").value
    assert browser.get("/console/requests").status_code == 200

    rotated = make_app(
        database_url, HINT_CONSOLE_SECRET_KEY=secret, HINT_CONSOLE_TOKENS=CONSOLE_TOKEN
    ).test_client()
    rotated.set_cookie("hint_console", cookie, path="/console")
    assert rotated.get("/console/requests").status_code == 302
    kept = make_app(database_url, HINT_CONSOLE_SECRET_KEY=secret).test_client()
    kept.set_cookie("hint_console", cookie, path="/console")
    assert kept.get("/console/requests").status_code == 200


def test_login_never_redirects_to_another_site(console_app):
    for target in (
        "https://evil.example/",
        "//evil.example/console/",
        "/ai_hint/trace/?request_id=1",
        "/console/\\evil",
    ):
        browser = console_app.test_client()
        csrf = form_csrf(browser.get("/console/login").get_data(as_text=True))
        answer = browser.post("/console/login", data={"csrf": csrf, "token": CONSOLE_TOKEN, "next": target})
        assert answer.headers["Location"] == "/console/requests"


def test_with_no_console_token_the_console_is_closed(database_url):
    closed = make_app(database_url, HINT_CONSOLE_TOKENS="").test_client()
    page = closed.get("/console/login")
    assert page.status_code == 200 and "The console is closed" in page.get_data(as_text=True)
    csrf = form_csrf(page.get_data(as_text=True))
    assert closed.post("/console/login", data={"csrf": csrf, "token": ""}).status_code == 403
    assert closed.get("/console/requests").status_code == 302
    for token in (CONSOLE_TOKEN, API_TOKEN, ""):
        assert (
            closed.get("/console/export.csv", headers={"Authorization": f"Bearer {token}"}).status_code == 403
        )


def test_pages_carry_headers_that_keep_student_data_private(client, bearer):
    answer = client.get("/console/requests/1001", headers=bearer)
    csp = answer.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "frame-ancestors 'none'" in csp
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_token_matching():
    assert token_matches("b" * 20, ("a" * 20, "b" * 20))
    assert not token_matches("b" * 19, ("a" * 20, "b" * 20))
    assert not token_matches("", ("a" * 20,))
    assert not token_matches("a" * 20, ())


@pytest.mark.parametrize(
    "env, name",
    [
        ({"HINT_CONSOLE_TOKENS": "short"}, "HINT_CONSOLE_TOKENS"),
        (
            {"HINT_CONSOLE_TOKENS": f"{CONSOLE_TOKEN},{API_TOKEN}", "HINT_API_TOKEN": API_TOKEN},
            "HINT_CONSOLE_TOKENS",
        ),
        ({"HINT_CONSOLE_SECRET_KEY": "too-short"}, "HINT_CONSOLE_SECRET_KEY"),
        ({"HINT_CONSOLE_PSEUDONYM_KEY": "too-short"}, "HINT_CONSOLE_PSEUDONYM_KEY"),
    ],
)
def test_bad_console_settings_name_the_variable(env, name):
    with pytest.raises(SettingsError, match=name):
        load_settings(env)


def test_console_settings_keep_their_secrets_out_of_repr():
    s = load_settings(
        {
            "HINT_CONSOLE_TOKENS": f" {CONSOLE_TOKEN} ,, {SECOND_CONSOLE_TOKEN}",
            "HINT_CONSOLE_PSEUDONYM_KEY": "k" * 40,
        }
    )
    assert s.console_tokens == (CONSOLE_TOKEN, SECOND_CONSOLE_TOKEN)
    assert CONSOLE_TOKEN not in repr(s) and "k" * 40 not in repr(s) and s.console_secret_key not in repr(s)
    # Unset, the session secret is random: sessions end with the process.
    assert load_settings({}).console_secret_key != load_settings({}).console_secret_key
