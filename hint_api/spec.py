"""The API's OpenAPI 3 document (`hint_api/openapi.yaml`), served as JSON and as YAML.

The file is the one source: the tests check that it lists exactly the routes the app
serves, and run generated requests from it against the app.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml
from flask import Blueprint, Response, jsonify

SPEC_PATH = Path(__file__).with_name("openapi.yaml")

bp = Blueprint("spec", __name__)


@cache
def openapi_document() -> dict[str, Any]:
    return yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))


@bp.get("/openapi.json")
def openapi_json() -> Response:
    return jsonify(openapi_document())


@bp.get("/openapi.yaml")
def openapi_yaml() -> Response:
    return Response(SPEC_PATH.read_text(encoding="utf-8"), mimetype="application/yaml")
