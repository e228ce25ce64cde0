"""Remake docs/dashboard-desktop.png and docs/dashboard-phone.png from a sandbox-filled database.

The real ETL syncs 120 days of the sandbox person into a throwaway SQLite file; the dashboard is
served over it and photographed in Debian's Chromium at 1280 and 390 px. Needs playwright
(requirements-dev.txt) and /usr/bin/chromium: `.venv/bin/python scripts/screenshots.py`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
from datetime import datetime, timezone
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from dashboard import make_server  # noqa: E402 - imported once the checkout is on sys.path
from sandbox import SandboxServer  # noqa: E402 - imported once the checkout is on sys.path

DOCS = PROJECT / "docs"
CHROMIUM = "/usr/bin/chromium"
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}


def fill(database_url: str, days: int = 120) -> None:
    """Run the real ETL once against a fresh sandbox into `database_url`."""
    with SandboxServer(days=days, seed=42, now=datetime.now(timezone.utc)) as sandbox:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("WHOOP_", "WITHINGS_", "DATABASE_URL"))}
        env.update(sandbox.environment(), DATABASE_URL=database_url, WHOOP_PLATFORM_NO_DOTENV="1")
        subprocess.run([sys.executable, "etl.py"], cwd=PROJECT, env=env, check=True)


def photograph(url: str) -> None:
    """Full-page screenshots of the served dashboard at each width, once the charts are drawn."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        for name, (width, height) in WIDTHS.items():
            page = browser.new_page(viewport={"width": width, "height": height}, device_scale_factor=1)
            page.goto(url)
            page.wait_for_selector("body[data-charts=drawn]", timeout=30_000)
            page.screenshot(path=str(DOCS / f"dashboard-{name}.png"), full_page=True)
            page.close()
        browser.close()


def main() -> int:
    """Fill, serve, photograph."""
    with tempfile.TemporaryDirectory() as tmp:
        database_url = f"sqlite:///{Path(tmp) / 'screenshots.db'}"
        fill(database_url)
        server = make_server(database_url, "127.0.0.1", 0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            photograph(server.url)
        finally:
            server.shutdown()
            server.server_close()
    print(f"wrote {', '.join(f'docs/dashboard-{name}.png' for name in WIDTHS)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
