"""Screenshot of the page `bertclf serve` shows at / (docs/serve-page.png): a model trained on the
shipped tickets, three texts typed in, their bars; with --explain, the words behind each label
marked (docs/explain-page.png). Needs Debian's chromium and playwright (the dev extra);
playwright never downloads a browser here.

    python examples/serve_screenshot.py [--model demo_out/tickets-model] [--out docs/serve-page.png]
    python examples/serve_screenshot.py --explain --out docs/explain-page.png
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
TEXTS = ["I was charged twice for the same order", "The parcel never arrived",
         "The app crashes when I log in"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None,
                        help="a model folder (else one is trained on the tickets)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "serve-page.png")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--explain", action="store_true", help="tick Explain before labelling")
    args = parser.parse_args()
    import uvicorn
    from playwright.sync_api import sync_playwright

    from bertclf.serve import create_app

    model = args.model
    if model is None:
        model = Path(tempfile.mkdtemp()) / "tickets-model"
        tickets = ROOT / "examples" / "support_tickets.csv"
        subprocess.run([sys.executable, "-m", "bertclf", "train", str(tickets), "--out", str(model), "-q"],
                       check=True)
    config = uvicorn.Config(create_app([model]), host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=ARGS)
        page = browser.new_page(viewport={"width": 900, "height": 800})
        page.goto(f"http://127.0.0.1:{port}/")
        page.wait_for_selector("#model option", state="attached")
        page.fill("#texts", "\n".join(TEXTS))
        if args.explain:
            page.check("#explain")
        page.click("#go")
        page.wait_for_selector(".result")
        page.screenshot(path=args.out, full_page=True)
        browser.close()
    server.should_exit = True
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
