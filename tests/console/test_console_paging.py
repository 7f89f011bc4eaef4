"""Keyset paging over many requests: every request once, in order, both directions."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from hint_api.console import queries
from hint_api.console.filters import Filters
from models import Request, db
from tests.console.support import bound_to, make_app


@pytest.fixture(scope="module")
def many(tmp_path_factory):
    """130 requests; groups of three share a timestamp, so the id breaks ties."""
    url = f"sqlite:///{tmp_path_factory.mktemp('paging') / 'paging.db'}"
    base = dt.datetime(2026, 5, 1, 8, 0, 0, 123456)
    with bound_to(url):
        with db.connection_context():
            Request.insert_many(
                [
                    {
                        "request_id": 5000 + n,
                        "problem_id": "factorial" if n % 2 else "fibonacci",
                        "hint_type": "plan",
                        "student_program": "pass",
                        "payload_hash": "0" * 64,
                        "created_at": base + dt.timedelta(minutes=n // 3),
                        "updated_at": base,
                        "deadline_at": base,
                        "reflection_deadline_at": base,
                        "stage": "pending",
                    }
                    for n in range(130)
                ]
            ).execute()
        yield url


def _all_pages(filters: Filters) -> tuple[list[int], list[queries.Page]]:
    seen, pages, cursor = [], [], None
    while True:
        page = queries.list_requests(filters, older_than=cursor, page_size=50, count_cap=100)
        pages.append(page)
        seen += [r.request_id for r in page.rows]
        if page.older is None:
            return seen, pages
        cursor = page.older


def test_pages_cover_every_request_once_newest_first(many):
    with db.connection_context():
        seen, pages = _all_pages(Filters())
    assert len(pages) == 3 and [len(p.rows) for p in pages] == [50, 50, 30]
    expected = sorted(range(5000, 5130), key=lambda n: ((n - 5000) // 3, n), reverse=True)
    assert seen == expected
    assert pages[0].newer is None and pages[1].newer is not None
    assert pages[0].matching == 100 and pages[0].capped  # counted no further than the cap


def test_going_back_returns_the_same_page(many):
    with db.connection_context():
        _, pages = _all_pages(Filters())
        back = queries.list_requests(Filters(), newer_than=pages[2].newer, page_size=50)
        first = queries.list_requests(Filters(), newer_than=pages[1].newer, page_size=50)
    assert [r.request_id for r in back.rows] == [r.request_id for r in pages[1].rows]
    assert [r.request_id for r in first.rows] == [r.request_id for r in pages[0].rows]
    assert first.newer is None


def test_filtered_paging_and_exact_counts_under_the_cap(many):
    with db.connection_context():
        seen, pages = _all_pages(Filters(problem="factorial"))
    assert sorted(seen) == list(range(5001, 5130, 2)) and len(seen) == 65
    assert pages[0].matching == 65 and not pages[0].capped


def test_the_pages_link_to_each_other(many):
    client = make_app(many).test_client()
    bearer = {"Authorization": "Bearer console-token-0123456789abcdef"}
    page = client.get("/console/requests?problem=factorial", headers=bearer).get_data(as_text=True)
    older = re.search(r'<a rel="next" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert "problem=factorial" in older
    second = client.get(older, headers=bearer).get_data(as_text=True)
    assert 'rel="prev"' in second and 'rel="next"' not in second
    assert len(re.findall(r'href="/console/requests/\d+"', second)) == 15
