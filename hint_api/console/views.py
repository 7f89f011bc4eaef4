"""The console's pages: login, the request list, one request's story, dashboards, exports.

Every route but the login form needs an instructor token: a session cookie opened by
the form, or `Authorization: Bearer <token>`. Pages are server-rendered with Jinja's
autoescape; stored text (programs, LLM output) is never marked safe.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from dataclasses import replace
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from peewee import InterfaceError, OperationalError
from werkzeug.exceptions import BadRequest, Forbidden, HTTPException, NotFound, Unauthorized

from hint_api.console import CONSOLE_BLUEPRINT, EXTENSION, ConsoleConfig, queries
from hint_api.console.auth import (
    COOKIE,
    COOKIE_PATH,
    SESSION_SECONDS,
    Session,
    bearer_token,
    csrf_ok,
    token_matches,
)
from hint_api.console.charts import hbars, stacked_bars
from hint_api.console.export import ExportOptions, csv_lines, jsonl
from hint_api.console.filters import ENGINES, HINT_TYPES, FilterError, Filters, Outcome, parse_filters
from hint_api.console.story import build_story, program_text
from models import db, utcnow

log = logging.getLogger("hint.console")

bp = Blueprint(CONSOLE_BLUEPRINT, __name__, url_prefix="/console", template_folder="templates")

PUBLIC_ENDPOINTS = ("console.login",)
MAX_REQUEST_ID = 2**63 - 1  # Request.request_id is a BIGINT
DASHBOARD_DAYS = 30  # the dashboards' range when none is given


def _config() -> ConsoleConfig:
    return current_app.extensions[EXTENSION]


# --- authentication -------------------------------------------------------------------------


def _safe_next(target: str | None) -> str:
    """Where to go after logging in: a console path of this site, never another site."""
    if target:
        parts = urlsplit(target)
        if (
            not parts.scheme
            and not parts.netloc
            and parts.path.startswith("/console/")
            and "\\" not in target
        ):
            return target
    return url_for("console.requests_list")


def _login_redirect() -> Response:
    here = request.full_path if request.query_string else request.path
    return redirect(url_for("console.login", next=here))


@bp.before_request
def guard() -> ResponseReturnValue | None:
    g.csp_nonce = secrets.token_urlsafe(16)
    config = _config()
    g.console_session = config.sessions.load(request.cookies.get(COOKIE))
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    given = bearer_token(request.headers.get("Authorization"))
    if given is not None:
        if not config.open:
            raise Forbidden("The console is closed: no HINT_CONSOLE_TOKENS are configured.")
        if not token_matches(given, config.tokens):
            raise Unauthorized("Wrong console token.")
        g.by_bearer = True
    elif config.sessions.logged_in(g.console_session):
        g.by_bearer = False
        if request.method == "POST" and not csrf_ok(g.console_session, request.form.get("csrf")):
            raise BadRequest("The form is out of date (CSRF check failed); reload the page and try again.")
    elif request.method in ("GET", "HEAD"):
        return _login_redirect()
    else:
        raise Unauthorized("Log in first.")
    g.authenticated = True
    db.connect(reuse_if_open=True)  # the application's teardown gives it back
    return None


@bp.after_request
def security_headers(response: Response) -> Response:
    nonce = g.get("csp_nonce", "")
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; style-src 'nonce-{nonce}'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )
    response.headers["Cache-Control"] = "no-store"  # students' programs stay out of shared caches
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _set_session(response: Response, session: Session) -> None:
    response.set_cookie(
        COOKIE,
        _config().sessions.dump(session),
        max_age=SESSION_SECONDS,
        path=COOKIE_PATH,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure,
    )


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    config = _config()
    session = g.console_session
    target = _safe_next(request.values.get("next"))
    if request.method == "GET" and config.sessions.logged_in(session):
        return redirect(target)
    if session is None or config.sessions.logged_in(session):
        session = config.sessions.new()  # a fresh pre-login session carries the form's CSRF token
    error, status = None, 200
    if request.method == "POST":
        if not csrf_ok(g.console_session, request.form.get("csrf")):
            error, status = "The form is out of date; try again.", 400
        elif not config.open:
            error, status = "The console is closed.", 403
        elif token_matches(request.form.get("token", ""), config.tokens):
            log.info("console: logged in from %s", request.remote_addr)
            response = redirect(target)
            _set_session(response, config.sessions.new(request.form["token"]))  # a new CSRF token too
            return response
        else:
            log.info("console: wrong token from %s", request.remote_addr)
            error, status = "Wrong token.", 401
    response = Response(
        render_template(
            "console/login.html",
            csrf=session.csrf,
            next=target,
            error=error,
            closed=not config.open,
        ),
        status=status,
    )
    _set_session(response, session)
    return response


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    response = redirect(url_for("console.login"))
    response.delete_cookie(COOKIE, path=COOKIE_PATH)
    return response


# --- pages ------------------------------------------------------------------------------------


def _filters() -> Filters:
    try:
        return parse_filters(request.args)
    except FilterError as exc:
        raise BadRequest(f"Bad filter {exc}") from None


def _page_context(**context: object) -> dict[str, object]:
    session = g.get("console_session")
    signed_in = g.get("authenticated", False)
    return {
        "nav": signed_in,
        "logout_csrf": session.csrf if signed_in and session is not None and not g.get("by_bearer") else None,
        "hint_types": HINT_TYPES,
        "engines": ENGINES,
        "outcomes": [o.value for o in Outcome],
        **context,
    }


@bp.get("/")
def index() -> ResponseReturnValue:
    return redirect(url_for("console.requests_list"))


@bp.get("/requests")
def requests_list() -> ResponseReturnValue:
    wanted = (request.args.get("request_id") or "").strip()
    if wanted:
        if not (wanted.isascii() and wanted.isdigit()):
            raise BadRequest("Bad filter request_id: must be a request id (digits)")
        return redirect(url_for("console.request_story", request_id=int(wanted)))
    filters = _filters()
    try:
        older = queries.Cursor.decode(request.args["older"]) if request.args.get("older") else None
        newer = queries.Cursor.decode(request.args["newer"]) if request.args.get("newer") else None
    except ValueError:
        raise BadRequest("Bad filter older/newer: not a page position this console made") from None
    page = queries.list_requests(filters, older_than=older, newer_than=newer)
    return render_template("console/requests.html", **_page_context(filters=filters, page=page))


def _stored(request_id: int) -> queries.StoredRequest:
    found = queries.stored_request(request_id) if 0 < request_id <= MAX_REQUEST_ID else None
    if found is None:
        raise NotFound(f"No request with request_id {request_id}.")
    return found


@bp.get("/requests/<int:request_id>")
def request_story(request_id: int) -> ResponseReturnValue:
    story = build_story(_stored(request_id))
    return render_template("console/request.html", **_page_context(story=story))


@bp.get("/requests/<int:request_id>/program/<which>.txt")
def program(request_id: int, which: str) -> ResponseReturnValue:
    """A program's whole text, as text/plain (the page shows a bounded part)."""
    text = program_text(_stored(request_id), which)
    if text is None:
        raise NotFound(f"Request {request_id} has no program '{which}'.")
    return Response(text, mimetype="text/plain")


@bp.get("/dashboards")
def dashboards() -> ResponseReturnValue:
    filters = _filters()
    if filters.date_from is None and filters.date_to is None:
        filters = replace(filters, date_from=utcnow().date() - dt.timedelta(days=DASHBOARD_DAYS - 1))
    data = queries.dashboards(filters)
    charts = {
        "per_type": stacked_bars([(d, t, n) for d, t, _, n in data.hints_per_day]),
        "per_engine": stacked_bars([(d, e or "?", n) for d, _, e, n in data.hints_per_day]),
        "tokens": stacked_bars(
            [
                (d, kind, v)
                for d, p, c, _ in data.tokens_per_day
                for kind, v in (("prompt", p), ("completion", c))
            ]
        ),
        "latency": hbars([(f"p{p}", v) for p, v in data.latency.items()], " s"),
        "failures": hbars([(f"{kind}: {cause}", n) for kind, cause, n in data.failures]),
        "problems": hbars([(p, n) for p, n, _ in data.problems]),
        "failing_tests": hbars([(f"{p} · {t}", n) for p, t, n in data.failing_tests]),
    }
    return render_template(
        "console/dashboards.html", **_page_context(filters=filters, data=data, charts=charts)
    )


# --- export -----------------------------------------------------------------------------------


def _flag(name: str) -> bool:
    value = (request.args.get(name) or "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise BadRequest(f"Bad option {name}: must be 1 or 0")


def _export_options() -> ExportOptions:
    pseudonymise = _flag("pseudonymise")
    key = _config().pseudonym_key
    if pseudonymise and not key:
        raise BadRequest("Bad option pseudonymise: set HINT_CONSOLE_PSEUDONYM_KEY to export pseudonymous ids")
    return ExportOptions(pseudonym_key=key if pseudonymise else None, strip_comments=_flag("strip_comments"))


def _download(lines: object, extension: str, mimetype: str) -> Response:
    name = f"hint-requests-{utcnow():%Y%m%d-%H%M%S}.{extension}"
    return Response(
        lines, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@bp.get("/export.csv")
def export_csv() -> ResponseReturnValue:
    filters, options = _filters(), _export_options()
    log.info("console: CSV export %s", filters.query_args())
    return _download(csv_lines(queries.export_records(filters), options), "csv", "text/csv")


@bp.get("/export.jsonl")
def export_jsonl() -> ResponseReturnValue:
    filters, options = _filters(), _export_options()
    log.info("console: JSONL export %s", filters.query_args())
    return _download(jsonl(queries.export_records(filters), options), "jsonl", "application/x-ndjson")


@bp.route("/<path:rest>")
def unknown(rest: str) -> ResponseReturnValue:
    raise NotFound("No such console page.")


# --- errors, as pages -----------------------------------------------------------------------


def _error_page(status: int, title: str, message: str) -> ResponseReturnValue:
    headers = {"WWW-Authenticate": 'Bearer realm="console"'} if status == 401 else {}
    if status == 503:
        headers["Retry-After"] = "5"
    body = render_template("console/error.html", **_page_context(status=status, title=title, message=message))
    return body, status, headers


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> ResponseReturnValue:
    return _error_page(exc.code or 500, exc.name, exc.description or exc.name)


@bp.errorhandler(OperationalError)
@bp.errorhandler(InterfaceError)
def outage(exc: Exception) -> ResponseReturnValue:
    log.warning("console: %s on %s during a database outage", type(exc).__name__, request.path)
    return _error_page(503, "Database unavailable", "The database is not answering; try again in a moment.")


@bp.errorhandler(Exception)
def unexpected(exc: Exception) -> ResponseReturnValue:
    log.exception("console: unhandled error on %s", request.path)
    return _error_page(500, "Internal error", "Something went wrong; the operator's log has the details.")
