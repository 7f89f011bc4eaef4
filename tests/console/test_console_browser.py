"""The console in a real browser: Debian's chromium driven by Playwright, against the app
served by waitress on loopback over the sample requests."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.console.support import CONSOLE_TOKEN


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(accept_downloads=True, base_url=live_server)
    page = context.new_page()
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.dialogs = dialogs
    yield page
    context.close()


def log_in(page, target: str = "/console/requests") -> None:
    page.goto(target)
    assert "/console/login" in page.url
    page.fill("input[name=token]", CONSOLE_TOKEN)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{target}")


def listed(page) -> list[str]:
    return page.locator("#requests tbody tr td:first-child a").all_inner_texts()


def test_log_in_filter_open_a_request_and_see_its_diff(page):
    log_in(page)
    assert listed(page) == ["1004", "1007", "1006", "1005", "1003", "1002", "1001"]

    page.select_option("select[name=outcome]", "hint")
    page.fill("input[name=problem]", "factorial")
    page.click("form[aria-label=Filters] button[type=submit]")
    page.wait_for_url("**outcome=hint**")
    assert listed(page) == ["1007", "1005", "1001"]

    page.click("text=1001")
    page.wait_for_url("**/console/requests/1001")
    assert page.locator("h1").inner_text() == "Request 1001"
    selected = page.locator("details.candidate[open]")
    assert selected.count() == 1 and "selected" in selected.locator("summary").inner_text()
    added = selected.locator("tr.d-add").all_inner_texts()
    removed = selected.locator("tr.d-del").all_inner_texts()
    assert any("result = 1" in row for row in added) and any("result = 0" in row for row in removed)
    assert selected.locator("tr.d-add").first.is_visible()
    marked = page.locator("tr.marked")
    assert marked.count() == 1 and marked.inner_text().startswith("5")

    # A closed candidate opens on a click.
    other = page.locator("details.candidate").nth(1)
    assert not other.locator("table.diff").is_visible()
    other.locator("summary").click()
    assert other.locator("table.diff").is_visible()


def test_log_out_closes_the_console(page):
    log_in(page)
    page.click("text=Log out")
    page.wait_for_url("**/console/login")
    page.goto("/console/requests/1001")
    assert "/console/login" in page.url and "Jane Doe" not in page.content()


def test_the_dashboards_draw_their_charts(page, sample):
    log_in(page, f"/console/dashboards?date_from={sample.first_day}")
    charts = page.locator("svg.chart")
    assert charts.count() == 3
    first = charts.first
    box = first.bounding_box()
    assert box["width"] > 300 and box["height"] > 100  # drawn, not collapsed
    assert first.locator("rect").count() >= 4
    assert any(t.endswith("· debug: 1") for t in first.locator("title").all_text_contents())
    assert page.locator("#fallback-share").inner_text() == "20.0 %"
    assert "factorial · zero" in page.locator("#failing-tests").inner_text()


def test_the_export_downloads_and_reads_back(page):
    log_in(page, "/console/requests?outcome=hint")
    page.check("input[name=strip_comments]")
    with page.expect_download() as csv_download:
        page.click("text=Download CSV")
    rows = list(csv.DictReader(io.StringIO(open(csv_download.value.path(), encoding="utf-8").read())))
    assert sorted(int(r["request_id"]) for r in rows) == [1001, 1005, 1006, 1007]
    assert all(r["outcome"] == "hint" for r in rows)
    assert not any("Jane Doe" in r["student_program"] for r in rows)

    page.check("input[name=pseudonymise]")
    with page.expect_download() as jsonl_download:
        page.click("text=Download JSON Lines")
    assert jsonl_download.value.suggested_filename.endswith(".jsonl")
    lines = [json.loads(line) for line in open(jsonl_download.value.path(), encoding="utf-8")]
    assert len(lines) == 4 and all(str(r["request_id"]).startswith("p") for r in lines)


def test_hostile_stored_text_stays_text(page):
    log_in(page, "/console/requests/1007")
    assert page.title() == "Request 1007 · Hint service"  # the stored <script> never ran
    assert page.dialogs == []
    assert "<script>document.title='pwned'</script>" in page.locator("#hint-text").inner_text()
    assert page.locator("img").count() == 0
    assert "more lines not shown" in page.content()


def test_unknown_ids_and_bad_filters_get_pages_that_say_so(page):
    log_in(page)
    answer = page.goto("/console/requests/31337")
    assert answer.status == 404 and "No request with request_id 31337" in page.inner_text("main")
    answer = page.goto("/console/requests?date_from=31.12.2026")
    assert answer.status == 400 and "Bad filter date_from" in page.inner_text("main")
