"""A real headless browser for the tests: Debian's ``chromium``, driven through the DevTools
protocol over ``--remote-debugging-pipe`` (file descriptors 3 and 4, NUL-separated JSON; no
websocket library needed).

``load(url)`` opens a page, waits for its load event (every image fetched or failed) and returns
what it logged as an error (console errors, uncaught exceptions, resources that failed to load)
and the state of every ``<img>``; ``screenshot(url, path)`` uses chromium's own ``--screenshot``.
"""
from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
         "--disable-extensions", "--disable-background-networking", "--disable-sync"]

IMAGES = ("JSON.stringify([...document.images].map(i => ({src: i.getAttribute('src'), "
          "complete: i.complete, width: i.naturalWidth, height: i.naturalHeight, "
          "shown: i.getBoundingClientRect().width, page: document.documentElement.clientWidth})))")


class Browser:
    """One chromium process and one page (a flattened DevTools session)."""

    def __init__(self, timeout: float = 60.0, width: int = 1280, height: int = 900):
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="chromium-")
        to_child, self._write = os.pipe()
        self._read, from_child = os.pipe()
        command = " ".join([CHROMIUM, *FLAGS, "--remote-debugging-pipe",
                            f"--user-data-dir={self.profile}", f"--window-size={width},{height}",
                            "about:blank", f"3<&{to_child}", f"4>&{from_child}"])
        self.proc = subprocess.Popen(["bash", "-c", f"exec {command}"],
                                     pass_fds=(to_child, from_child),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_child)
        os.close(from_child)
        self._buffer, self._next_id, self.events = b"", 0, []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable", session=True)

    def _message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._read], [], [], left)[0]:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, session: bool = False, **params) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str) -> dict:
        deadline = time.monotonic() + self.timeout
        while True:
            for event in self.events:
                if event.get("method") == method:
                    return event
            self.events.append(self._message(deadline))

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", session=True, expression=expression,
                           returnByValue=True)
        return result["result"].get("value")

    def errors(self) -> list[str]:
        """Everything the page reported as an error: console errors, uncaught exceptions, and
        log entries of level error (a resource that failed to load is one)."""
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append("console: " + " ".join(str(a.get("value", a.get("description")))
                                                    for a in params.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                found.append("exception: " + json.dumps(params.get("exceptionDetails", {}))[:500])
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                entry = params["entry"]
                found.append(f"log: {entry.get('text')} {entry.get('url', '')}".strip())
        return found

    def full_page_png(self, path: Path) -> None:
        """A screenshot of the whole page (for looking at it, beyond the window)."""
        data = self.call("Page.captureScreenshot", session=True, format="png",
                         captureBeyondViewport=True)["data"]
        Path(path).write_bytes(base64.b64decode(data))

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._read)
        os.close(self._write)
        shutil.rmtree(self.profile, ignore_errors=True)


def load(url: str, timeout: float = 60.0) -> dict:
    """Open ``url``; after its load event: {errors, images, title}."""
    browser = Browser(timeout)
    try:
        browser.call("Page.navigate", session=True, url=url)
        browser.wait_for("Page.loadEventFired")
        return {"errors": browser.errors(), "images": json.loads(browser.evaluate(IMAGES)),
                "title": browser.evaluate("document.title")}
    finally:
        browser.close()


def screenshot(url: str, path: Path, width: int = 1280, height: int = 1600,
               timeout: float = 60.0) -> None:
    """``chromium --headless --screenshot``: the first ``width`` x ``height`` pixels."""
    profile = tempfile.mkdtemp(prefix="chromium-")
    try:
        subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}",
                        f"--window-size={width},{height}", f"--screenshot={path}", url],
                       check=True, capture_output=True, timeout=timeout)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
