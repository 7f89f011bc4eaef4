"""The OpenAPI document: it lists exactly what the app serves, and no generated input,
valid or not, makes the API answer 5xx (a property-based run with schemathesis)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import schemathesis
import schemathesis.generation.body_overrides
import yaml
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from hint_api import create_app
from hint_api.spec import SPEC_PATH
from migrations import migrate
from models import db
from runtime import build
from settings import load_settings
from tests.conftest import TEST_ENV, services_for
from tests.helpers import SANDBOX, TEST_TOKEN

METHODS = {"get", "post", "put", "patch", "delete"}

# schemathesis imports body_overrides lazily, deep inside a hypothesis draw; compiling a
# module that deep trips a CPython 3.11 bug ("AST constructor recursion depth mismatch"),
# so it is imported above, at a shallow stack.


def test_document_lists_exactly_the_routes_the_app_serves(app):
    document = yaml.safe_load(SPEC_PATH.read_text())
    documented = {
        (path, method.upper()) for path, item in document["paths"].items() for method in item if method in METHODS
    }
    served = {
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static" and not rule.endpoint.startswith("console.")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert documented == served


def test_the_document_is_served_as_json_and_yaml(client):
    document = yaml.safe_load(SPEC_PATH.read_text())
    assert client.get("/openapi.json").get_json() == document
    served = client.get("/openapi.yaml")
    assert served.status_code == 200 and yaml.safe_load(served.data) == document


# Built at import, as schemathesis needs it for collection: its own SQLite file, the
# in-process broker and the offline engine.
_URL = f"sqlite:///{Path(tempfile.mkdtemp(prefix='hint-openapi-')) / 'hint.db'}"
migrate(_URL)
RUNTIME = build(load_settings({"DATABASE_URL": _URL, **TEST_ENV}), services=services_for(None), executor=SANDBOX)
APP = create_app(RUNTIME)
AUTH = {"Authorization": f"Bearer {TEST_TOKEN}"}
schema = schemathesis.openapi.from_wsgi("/openapi.json", APP, headers=AUTH)
# Enough examples per operation to find type and encoding holes, few enough for CI.
schema.config.generation.update(max_examples=60, database="none")


@pytest.fixture
def app_database():
    """The models bound to APP's database (other tests bind their own in between)."""
    db.initialize(RUNTIME.database)


@schema.parametrize()
# One database and one queue for all the examples of an operation, on purpose: later
# calls meet the state earlier ones left (repeats, conflicts, known request ids).
# Generation speed is not what this test judges: on a busy 2-core machine it can be slow.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], deadline=None)
def test_no_generated_input_gets_a_server_error(case, app_database):
    response = case.call(headers=AUTH)
    case.validate_response(response, checks=[not_a_server_error])
