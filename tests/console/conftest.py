"""Self-contained fixtures for the console: a temporary SQLite database with the sample
requests, and applications built with `create_app(settings)` from explicit settings.

The models are bound to the temporary database for the duration of this package and
bound back afterwards, so the rest of the suite keeps its own database.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from models import db
from tests.console.sample_data import Sample, populate
from tests.console.support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    CONSOLE_TOKEN,
    bound_to,
    chromium_or_skip,
    make_app,
    serve,
)


@pytest.fixture(scope="package")
def database_url(tmp_path_factory) -> Iterator[str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('console') / 'console.db'}"
    with bound_to(url):
        yield url


@pytest.fixture(scope="package")
def sample(database_url) -> Sample:
    with db.connection_context():
        return populate()


@pytest.fixture(scope="package")
def console_app(database_url, sample) -> Flask:
    return make_app(database_url)


@pytest.fixture
def client(console_app):
    """A test client with no credentials."""
    return console_app.test_client()


@pytest.fixture
def bearer():
    return {"Authorization": f"Bearer {CONSOLE_TOKEN}"}


def form_csrf(html: str) -> str:
    return html.split('name="csrf" value="', 1)[1].split('"', 1)[0]


@pytest.fixture
def logged_in(console_app):
    """A test client logged in through the form, like a browser."""
    client = console_app.test_client()
    csrf = form_csrf(client.get("/console/login").get_data(as_text=True))
    answer = client.post(
        "/console/login", data={"csrf": csrf, "token": CONSOLE_TOKEN, "next": "/console/requests"}
    )
    assert answer.status_code == 302
    return client


@pytest.fixture(scope="package")
def live_server(console_app) -> Iterator[str]:
    with serve(console_app) as url:
        yield url


@pytest.fixture(scope="package")
def browser():
    chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
