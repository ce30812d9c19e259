"""Open every page of the book in headless Chromium and check it as a reader would see it.

    python tests/browser_check.py BOOK_DIR            # check a built book
    python tests/browser_check.py BOOK_DIR --build    # build the quick book first

For every page reachable from index.html: it loads, every image decodes
(naturalWidth > 0), the console shows no error and no exception is thrown, and every
internal link points at a file that exists (and, for #L-N, at a line that exists).
Talks to Chromium over its DevTools protocol (--remote-debugging-port) with the
`websocket-client` package. Exits 1 and lists the problems if there are any.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


class Browser:
    """One headless Chromium and one tab, driven over the DevTools protocol."""

    def __init__(self, exe: str) -> None:
        import websocket  # websocket-client

        self.profile = tempfile.mkdtemp(prefix="book-chromium-")
        self.proc = subprocess.Popen(
            [exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--remote-debugging-port=0", f"--user-data-dir={self.profile}",
             "--allow-file-access-from-files", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        port_file = Path(self.profile) / "DevToolsActivePort"
        for _ in range(300):
            if port_file.is_file() and port_file.read_text().strip():
                break
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        tabs = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json"))
        page = next(t for t in tabs if t["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60)
        self.next_id = 0
        self.events: list[dict] = []
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def open(self, url: str) -> list[dict]:
        """Navigate, wait for the load event; return the events seen meanwhile."""
        self.events = []
        self.call("Page.navigate", url=url)
        deadline = time.time() + 60
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            if time.time() > deadline:
                raise TimeoutError(f"{url} did not finish loading")
            self.events.append(json.loads(self.ws.recv()))
        time.sleep(0.2)  # late console messages
        self.call("Runtime.evaluate", expression="1")
        return self.events

    def eval(self, js: str):
        r = self.call("Runtime.evaluate", expression=js, returnByValue=True, awaitPromise=True)
        return r["result"].get("value")

    def close(self) -> None:
        self.ws.close()
        self.proc.terminate()
        self.proc.wait(10)
        shutil.rmtree(self.profile, ignore_errors=True)


PAGE_JS = """(async () => {
  const imgs = Array.from(document.images);
  await Promise.all(imgs.map(i => i.decode().catch(() => null)));
  return {
    title: document.title,
    text: document.body ? document.body.innerText.length : 0,
    images: imgs.length,
    broken: imgs.filter(i => !(i.naturalWidth > 0)).map(i => (i.src || '').slice(0, 80)),
    links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
  };
})()"""


def errors_in(events: list[dict]) -> list[str]:
    found = []
    for e in events:
        m, p = e.get("method"), e.get("params", {})
        if m == "Runtime.exceptionThrown":
            found.append("exception: " + p["exceptionDetails"].get("text", ""))
        elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            found.append("console: " + " ".join(str(a.get("value", "")) for a in p.get("args", [])))
        elif m == "Log.entryAdded" and p["entry"].get("level") == "error":
            found.append("log: " + p["entry"].get("text", "") + " " + p["entry"].get("url", ""))
    return found


def check(book: Path, exe: str) -> tuple[int, list[str]]:
    book = book.resolve()
    browser = Browser(exe)
    problems: list[str] = []
    seen: set[Path] = set()
    todo = [book / "index.html"]
    try:
        while todo:
            page = todo.pop()
            if page in seen:
                continue
            seen.add(page)
            name = page.relative_to(book).as_posix()
            problems += [f"{name}: {err}" for err in errors_in(browser.open(page.as_uri()))]
            info = browser.eval(PAGE_JS)
            if not info or info["text"] < 50:
                problems.append(f"{name}: the page is empty")
                continue
            problems += [f"{name}: image does not decode: {src}" for src in info["broken"]]
            for href in info["links"]:
                url = urllib.parse.urlparse(href)
                if url.scheme != "file":
                    continue  # the book links nothing outside itself; external links are not checked
                target = Path(urllib.parse.unquote(url.path))
                if not target.is_file():
                    problems.append(f"{name}: broken link {href}")
                elif (
                    url.fragment.startswith("L-")
                    and f'id="{url.fragment}"' not in target.read_text()
                ):
                    problems.append(f"{name}: link to a missing line {href}")
                elif target.suffix == ".html" and book in target.parents or target.parent == book:
                    todo.append(target)
    finally:
        browser.close()
    return len(seen), problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("book", type=Path)
    ap.add_argument("--build", action="store_true", help="build the quick book first")
    args = ap.parse_args()
    exe = find_chromium()
    if exe is None:
        print("no chromium found")
        return 1
    if args.build:
        from tinygrad_edu.lessons.book import build

        build(args.book, quick=True)
    pages, problems = check(args.book, exe)
    for p in problems:
        print("PROBLEM", p)
    print(f"{pages} pages checked, {len(problems)} problems")
    return 1 if problems or pages < 2 else 0


if __name__ == "__main__":
    sys.exit(main())
