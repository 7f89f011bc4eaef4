"""Screenshots of the console's main pages for docs/console.md:
`python -m tests.console.screenshots [OUT_DIR]` (default docs/console/).

Serves the console on loopback over a temporary SQLite database holding the sample
requests (tests/console/sample_data.py) and drives Debian's chromium with Playwright.
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from models import db
from tests.console.sample_data import populate
from tests.console.support import CHROMIUM, CHROMIUM_ARGS, CONSOLE_TOKEN, bound_to, make_app, serve

ROOT = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2026, 3, 12, 15, 30)
WIDTH, HEIGHT = 1100, 820


def shoot(page: Page, path: Path, height: int = HEIGHT) -> None:
    """The top `height` pixels of the page (or of what an #anchor scrolled to)."""
    page.screenshot(
        path=str(path),
        clip={"x": 0, "y": page.evaluate("window.scrollY"), "width": WIDTH, "height": height},
        full_page=True,
    )
    print(f"{path}: {path.stat().st_size // 1024} KiB")


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else ROOT / "docs" / "console"
    out.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{tempfile.mkdtemp(prefix='console-shots-')}/console.db"
    with bound_to(url):
        with db.connection_context():
            sample = populate(NOW)  # a fixed time: the same pictures on every run
        with serve(make_app(url)) as base, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
            page.goto(f"{base}/console/login")
            shoot(page, out / "login.png", height=420)
            page.fill("input[name=token]", CONSOLE_TOKEN)
            page.click("button[type=submit]")
            page.wait_for_url("**/console/requests")
            shoot(page, out / "requests.png", height=720)
            page.goto(f"{base}/console/requests/{sample.ids['llm']}")
            shoot(page, out / "request.png")
            page.goto(f"{base}/console/requests/{sample.ids['llm']}#candidates")
            shoot(page, out / "request-candidates.png")
            page.goto(f"{base}/console/dashboards?date_from={sample.first_day}")
            shoot(page, out / "dashboards.png", height=1250)
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
