"""Take the screenshots in docs/img/ from a real `tether demo` run, so they stay true.

    python docs/screenshots.py [--wait SECONDS] [--out DIR]

It starts `tether demo --linger`, which runs the fault lab on loopback watched by the
monitor, waits for every monitor to settle and then ``--wait`` seconds more (so the
charts have some history), and photographs three pages in Debian's headless Chromium
(driven by Playwright, which the test extra installs; its own browser download is not
used): the overview (``overview.png``), the page of a monitor (``monitor.png``) and the
demo's public status page (``status-page.png``).  Only loopback is ever reached.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PAGES = {
    "overview.png": ("/", None, True),
    "monitor.png": ("/monitors/healthy", "1h", False),
    "status-page.png": ("/status/lab", None, True),
}
"""Each picture's page, the chart range to pick on it (a demo's history is minutes), and
whether to take the whole page (a monitor's: its top, the tiles, the bar and the chart)."""
_DASHBOARD = re.compile(r"dashboard on (http://127\.0\.0\.1:\d+)/")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wait", type=float, default=90.0, help="seconds of history to gather")
    parser.add_argument("--out", default=str(Path(__file__).parent / "img"), help="where to write")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        print(f"screenshots: {CHROMIUM} is missing: apt-get install chromium", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tether-shots-") as tmp:
        command = [sys.executable, "-m", "tether.cli", "demo", "--keep", tmp]
        command += ["--duration", "60", "--linger", str(args.wait + 60)]
        demo = subprocess.Popen(
            command, stdout=subprocess.PIPE, text=True, env={**os.environ, "NO_COLOR": "1"}
        )
        assert demo.stdout is not None
        base = None
        try:
            for line in demo.stdout:
                print(line, end="")
                if (found := _DASHBOARD.search(line)) is not None:
                    base = found.group(1)
                if "The dashboard stays up" in line:
                    break
            if base is None:
                print("screenshots: the demo never said where its dashboard is", file=sys.stderr)
                return 1
            time.sleep(args.wait)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                for name, (path, chart_range, whole) in PAGES.items():
                    page.goto(base + path, wait_until="networkidle")
                    if chart_range is not None:
                        page.click(f'button[data-range="{chart_range}"]')
                        page.wait_for_selector(f'[data-shown="{chart_range}"]')
                    page.screenshot(path=str(out / name), full_page=whole)
                    print(f"wrote {out / name}")
                browser.close()
        finally:
            demo.send_signal(signal.SIGTERM)
            demo.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
