"""The request list, one request's story and the dashboards, over the sample requests."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest

from hint_api.console import queries
from hint_api.console.filters import Filters, Outcome, parse_filters
from models import db, utcnow
from tests.console.sample_data import FIXED_FACTORIAL, HOSTILE_MARKUP


def listed(page: str) -> list[int]:
    """The request ids in the list's table, in order."""
    table = page.split('id="requests"', 1)[1].split("</table>", 1)[0]
    return [int(n) for n in re.findall(r'/console/requests/(\d+)"', table)]


def get(client, bearer, path: str):
    answer = client.get(path, headers=bearer)
    return answer, answer.get_data(as_text=True)


def test_the_list_shows_every_request_newest_first(client, bearer, sample):
    answer, page = get(client, bearer, "/console/requests")
    assert answer.status_code == 200
    assert listed(page) == [1004, 1007, 1006, 1005, 1003, 1002, 1001]
    assert "7 requests match" in page


@pytest.mark.parametrize(
    "query, expected",
    [
        ("problem=factorial", [1007, 1005, 1001]),
        ("hint_type=optimize", [1004, 1006]),
        ("engine=offline", [1006, 1002]),
        ("engine=tests", [1005]),
        ("outcome=hint", [1007, 1006, 1005, 1001]),
        ("outcome=fallback", [1002]),
        ("outcome=failed", [1003]),
        ("outcome=pending", [1004]),
        ("problem=factorial&hint_type=debug&outcome=hint", [1007, 1001]),
        ("problem=nothing-like-this", []),
    ],
)
def test_filters_narrow_the_list(client, bearer, query, expected):
    answer, page = get(client, bearer, f"/console/requests?{query}")
    assert answer.status_code == 200 and listed(page) == expected


def test_the_date_range_counts_whole_days(client, bearer, sample):
    day = sample.first_day
    _, page = get(client, bearer, f"/console/requests?date_from={day}&date_to={day}")
    assert listed(page) == [1001]
    _, page = get(
        client, bearer, f"/console/requests?date_from={day + dt.timedelta(days=1)}&outcome=fallback"
    )
    assert listed(page) == [1002]


@pytest.mark.parametrize(
    "query, name",
    [
        ("outcome=lost", "outcome"),
        ("hint_type=essay", "hint_type"),
        ("engine=gpt", "engine"),
        ("date_from=2026-13-01", "date_from"),
        ("date_from=yesterday", "date_from"),
        ("date_from=2026-02-02&date_to=2026-02-01", "date_to"),
        ("problem=" + "x" * 201, "problem"),
        ("problem=a%00b", "problem"),
        ("older=1'%20OR%201=1", "older"),
        ("request_id=12abc", "request_id"),
    ],
)
def test_bad_filter_values_get_a_400_page_naming_the_filter(client, bearer, query, name):
    answer, page = get(client, bearer, f"/console/requests?{query}")
    assert answer.status_code == 400
    assert answer.mimetype == "text/html" and f"Bad filter {name}" in page


def test_bad_filters_are_refused_by_the_dashboards_and_exports_too(client, bearer):
    for path in ("/console/dashboards", "/console/export.csv", "/console/export.jsonl"):
        answer, page = get(client, bearer, f"{path}?outcome=lost")
        assert answer.status_code == 400 and "Bad filter outcome" in page


def test_search_by_request_id_opens_the_request_or_says_it_is_unknown(client, bearer):
    answer = client.get("/console/requests?request_id=1003", headers=bearer)
    assert answer.status_code == 302 and answer.headers["Location"] == "/console/requests/1003"
    for path in (
        "/console/requests/999999",
        "/console/requests/99999999999999999999999",
        "/console/requests/1001/program/77777.txt",
        "/console/requests/1001/program/x.txt",
    ):
        answer, page = get(client, bearer, path)
        assert answer.status_code == 404 and answer.mimetype == "text/html" and "404" in page


def test_a_request_tells_its_whole_story(client, bearer):
    answer, page = get(client, bearer, "/console/requests/1001")
    assert answer.status_code == 200
    text = html.unescape(page)
    # The student's program with the line the run blames, and the test results.
    assert re.search(r'<tr class="marked"[^>]*><td class="n">5</td>', page)
    assert "factorial(0) returned 0, expected 1" in text and 'id="tests"' in page
    # Each candidate with its verdict and a diff; the selected one and why.
    for verdict in ("correct", "wrong", "invalid"):
        assert f'class="pill v-{verdict}"' in page
    assert "the answer held no JSON object" in text
    assert re.search(
        r'<tr class="d-add"><td class="n"></td><td class="n">3</td><td class="code">\+ +result = 1</td>', page
    )
    assert re.search(
        r'<tr class="d-del"><td class="n">3</td><td class="n"></td><td class="code">- +result = 0</td>', page
    )
    assert (
        "the passing program closest to the student's (1 token edit(s) away); others are 19 edit(s) away."
        in text
    )
    # Prompts and answers, tokens, and the place for cost.
    assert "You repair Python programs" in text and "You are a Socratic tutor" in text
    assert '<th class="num">3292</th>' in page and '<th class="num">915</th>' in page
    assert "not recorded" in page
    # Time per step from the stored timestamps.
    for step in (
        "request received",
        "student program run",
        "candidates from openai gpt-4.1-mini (attempt 1) stored",
        "reflection received",
        "evidence complete, hint stage claimed",
        "hint stored",
        "reported to orchestration",
    ):
        assert step in text
    assert re.search(r"hint stored</td><td>[^<]+</td><td class=\"num\">9.00 s</td>", page)
    # The hint, the explanation, the engine, the leak guard and the callback.
    assert "What value does result hold before the loop multiplies anything into it?" in text
    assert "result starts at 0, so every product stays 0" in text
    assert "<dt>Action</dt><dd>regenerated</dd>" in page
    assert "the hint quotes a changed line: result = 1" in text
    assert "Orchestration accepted the callback after 2 attempt(s)." in text
    assert "I think the loop is wrong" in text


@pytest.mark.parametrize(
    "request_id, expected",
    [
        (1002, ["offline fallback", "LLM hint failed, offline hint used: LLMError: timed out after 30 s"]),
        (
            1003,
            [
                "generate_hint failed: LLMError: the endpoint answered HTTP 500",
                "No candidate passed every test: the hint was written from the student's run alone.",
            ],
        ),
        (1004, ["No hint yet", "not run yet", "No answer yet, so nothing to report."]),
        (1005, ["Your code seems already correct.", "No candidates stored."]),
        (1006, ["the fastest passing program (0.0008 s of work); others: 0.0015 s."]),
    ],
)
def test_requests_in_every_state_render(client, bearer, request_id, expected):
    answer, page = get(client, bearer, f"/console/requests/{request_id}")
    assert answer.status_code == 200
    for text in expected:
        assert text in html.unescape(page)


def test_stored_text_is_escaped_and_a_huge_program_is_shown_bounded(client, bearer):
    answer, page = get(client, bearer, "/console/requests/1007")
    assert answer.status_code == 200
    assert "<script>" not in page and "onerror=alert" not in page.replace("onerror=alert(1)&gt;", "")
    assert html.escape(HOSTILE_MARKUP, quote=False) in page.replace("&#39;", "'").replace("&#34;", '"')
    assert "more lines not shown" in page and "more characters" in page
    assert len(page) < 250_000  # the program alone is over 100,000 characters
    whole = client.get("/console/requests/1007/program/student.txt", headers=bearer)
    assert whole.mimetype == "text/plain" and len(whole.get_data(as_text=True)) > 100_000
    assert whole.headers["X-Content-Type-Options"] == "nosniff"


def test_a_candidate_program_is_served_whole_as_text(client, bearer):
    with db.connection_context():
        stored = queries.stored_request(1001)
    pk = stored.candidates[0].id
    answer = client.get(f"/console/requests/1001/program/{pk}.txt", headers=bearer)
    assert answer.status_code == 200 and answer.get_data(as_text=True) == FIXED_FACTORIAL


def test_the_dashboards_compute_their_figures_in_sql(sample):
    with db.connection_context():
        data = queries.dashboards(Filters(date_from=sample.first_day))
    assert (data.hints, data.fallbacks, data.failed, data.pending) == (5, 1, 1, 1)
    # Request -> hint seconds of the five hints: 0.5, 1.6, 9, 12, 40 (nearest rank).
    assert data.latency == {
        50: pytest.approx(9.0, abs=0.01),
        90: pytest.approx(40.0, abs=0.01),
        95: pytest.approx(40.0, abs=0.01),
        99: pytest.approx(40.0, abs=0.01),
    }
    assert sum(n for _, _, _, n in data.hints_per_day) == 5
    assert {(t, e) for _, t, e, _ in data.hints_per_day} == {
        ("debug", "openai"),
        ("plan", "offline"),
        ("plan", "tests"),
        ("optimize", "offline"),
    }
    assert ("failed", "generate_hint failed", 1) in data.failures
    assert ("fallback", "LLM hint failed, offline hint used", 1) in data.failures
    assert data.problems[0] == ("factorial", 3, 2)
    assert ("factorial", "zero", 2) in data.failing_tests and ("factorial", "five", 1) in data.failing_tests
    assert ("sum_of_evens", "pool", 1) in data.pool
    prompt = sum(p for _, p, _, _ in data.tokens_per_day)
    assert prompt == 812 + 2480 + 812 + 900 + 700 + 812 + 812 + 1250  # every phase of every request
    assert data.totals["tokens_per_hint"] == pytest.approx(data.totals["tokens"] / 5)
    assert not data.cost_recorded and all(cost is None for *_, cost in data.tokens_per_day)


def test_the_dashboards_follow_the_filters(sample):
    with db.connection_context():
        debug = queries.dashboards(parse_filters({"hint_type": "debug", "date_from": str(sample.first_day)}))
        nothing = queries.dashboards(Filters(problem="nothing-like-this"))
    assert (debug.hints, debug.failed) == (2, 1)
    assert (nothing.hints, nothing.latency, nothing.failing_tests, nothing.tokens_per_day) == (0, {}, [], [])


def test_the_dashboards_page_draws_its_charts(client, bearer, sample):
    answer, page = get(client, bearer, f"/console/dashboards?date_from={sample.first_day}")
    assert answer.status_code == 200
    assert page.count('<svg class="chart"') == 3 and '<rect class="s0"' in page
    assert '<div class="big" id="fallback-share">20.0 %</div>' in page
    assert "factorial · zero" in html.unescape(page)
    assert "cost: not recorded (tokens only)" in page
    # With no dates given, the last 30 days.
    default = client.get("/console/dashboards", headers=bearer).get_data(as_text=True)
    since = (utcnow().date() - dt.timedelta(days=29)).isoformat()
    assert f'name="date_from" value="{since}"' in default


def test_outcomes_of_the_list_match_the_dashboards(sample):
    with db.connection_context():
        page = queries.list_requests(Filters())
    assert [r.outcome for r in page.rows] == [
        Outcome.PENDING,
        Outcome.HINT,
        Outcome.HINT,
        Outcome.HINT,
        Outcome.FAILED,
        Outcome.FALLBACK,
        Outcome.HINT,
    ]
