"""The ingest baseline: a trivial Flask route on the same waitress settings as the API.

`python -m scripts.bench_trivial PORT` serves `POST /trivial/` (answers `{"ok": true}`
after parsing the JSON body), so the benchmark can tell the cost of `add_request`
itself from the cost of HTTP, WSGI and Flask on this machine.
"""

from __future__ import annotations

import sys

from flask import Flask, Response, jsonify, request
from waitress import serve

from hint_api.serve import waitress_options


def create_app() -> Flask:
    app = Flask(__name__)

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok")

    @app.post("/trivial/")
    def trivial() -> Response:
        request.get_json(silent=True)
        return jsonify(ok=True)

    return app


def main() -> None:
    serve(create_app(), host="127.0.0.1", port=int(sys.argv[1]), **waitress_options())


if __name__ == "__main__":
    main()
