"""Headless Chromium (Debian's ``chromium``) driven over the DevTools protocol on a pipe.

``--remote-debugging-pipe`` makes Chromium read protocol commands from file descriptor 3 and write
answers and events to 4, each a JSON text ended by a NUL byte: no browser driver and no WebSocket
client, only the standard library. Unlike ``--dump-dom --virtual-time-budget``, whose virtual clock
fires a page's timers back to back (polls 2 s apart in the page came 15 ms apart in real time, so
the server's counters barely moved between them), the page runs in real time.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "chromium"
"""Debian's package and command (``scripts/provision.sh`` installs it)."""


def chromium_or_skip() -> str:
    """The Chromium executable; a skip without one, a failure when ``$CI`` is set."""
    path = shutil.which(CHROMIUM)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: scripts/provision.sh installs Debian's chromium")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return path


class BrowserError(RuntimeError):
    """Chromium answered a command with an error, closed the pipe, or did not answer in time."""


class Browser:
    """One headless Chromium with one page, driven over the DevTools pipe.

    Args:
        executable: The Chromium binary.
        width: Window width in CSS pixels.
        height: Window height in CSS pixels.
    """

    def __init__(self, executable: str, width: int = 1280, height: int = 900) -> None:
        self._profile = tempfile.TemporaryDirectory(prefix="zhijian-chromium-")
        self._log = open(Path(self._profile.name) / "chromium.log", "wb")
        to_chromium, self._write = os.pipe()
        self._read, from_chromium = os.pipe()

        def descriptors() -> None:  # in the child: the protocol's pipe on 3 and 4
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_chromium, from_chromium)]
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)

        self._process = subprocess.Popen(
            [executable, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--no-default-browser-check", "--disable-extensions", "--hide-scrollbars",
             "--mute-audio", "--remote-debugging-pipe", f"--user-data-dir={self._profile.name}",
             f"--window-size={width},{height}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            pass_fds=(3, 4), preexec_fn=descriptors)
        os.close(to_chromium)
        os.close(from_chromium)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        """Every protocol event received (console messages, exceptions, page loads)."""
        try:
            self._attach(width, height)
        except BaseException:
            self.close()
            raise

    def _attach(self, width: int, height: int) -> None:
        pages = [t for t in self.call("Target.getTargets", session=False)["targetInfos"]
                 if t["type"] == "page"]
        self._session = self.call("Target.attachToTarget", {"targetId": pages[0]["targetId"],
                                                             "flatten": True},
                                  session=False)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")
        self.call("Emulation.setDeviceMetricsOverride", {"width": width, "height": height,
                                                         "deviceScaleFactor": 1, "mobile": False})

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._read], [], [], left)[0]:
                raise BrowserError("no answer from chromium in time; its log: "
                                   f"{self.log()[-2000:]}")
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise BrowserError(f"chromium closed the pipe; its log: {self.log()[-2000:]}")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, params: dict[str, Any] | None = None, session: bool = True,
             timeout_s: float = 30.0) -> dict[str, Any]:
        """Send one protocol command and return its result (events met meanwhile are kept)."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self._session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout_s
        while True:
            answer = self._message(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            if "method" in answer:
                self.events.append(answer)

    def open(self, url: str, timeout_s: float = 30.0) -> None:
        """Navigate to ``url`` and wait for its load event."""
        seen = len(self.events)
        result = self.call("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise BrowserError(f"navigating to {url}: {result['errorText']}")
        deadline = time.monotonic() + timeout_s
        while not any(e["method"] == "Page.loadEventFired" for e in self.events[seen:]):
            message = self._message(deadline)
            if "method" in message:
                self.events.append(message)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises awaited).

        Raises:
            BrowserError: The expression threw.
        """
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True})
        if "exceptionDetails" in result:
            raise BrowserError(f"the page threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout_s: float, interval_s: float = 0.25) -> Any:
        """Evaluate ``expression`` until it is truthy; its value.

        Raises:
            BrowserError: It stayed falsy for ``timeout_s`` seconds.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise BrowserError(f"{expression!r} still false after {timeout_s} s")
            time.sleep(interval_s)

    def screenshot(self) -> bytes:
        """A PNG of the page's viewport."""
        return base64.b64decode(self.call("Page.captureScreenshot", {"format": "png"})["data"])

    def problems(self) -> list[str]:
        """Console errors, uncaught exceptions and blocked loads (CSP violations among them)."""
        found = []
        for event in self.events:
            if event["method"] == "Runtime.exceptionThrown":
                found.append(json.dumps(event["params"]["exceptionDetails"])[:500])
            elif event["method"] == "Log.entryAdded":
                entry = event["params"]["entry"]
                if entry["level"] == "error":
                    found.append(f"{entry['text']} {entry.get('url', '')}".strip())
            elif (event["method"] == "Runtime.consoleAPICalled"
                  and event["params"]["type"] in ("error", "assert")):
                found.append(json.dumps(event["params"]["args"])[:500])
        return found

    def log(self) -> str:
        """Chromium's own output so far."""
        self._log.flush()
        return (Path(self._profile.name) / "chromium.log").read_text(errors="replace")

    def close(self) -> None:
        """Close the browser (killed when it does not exit within 10 s) and its profile."""
        if self._process.poll() is None:
            try:
                self.call("Browser.close", session=False, timeout_s=10)
            except (BrowserError, OSError):
                pass
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)
        for fd in (self._read, self._write):
            try:
                os.close(fd)
            except OSError:
                pass
        self._log.close()
        self._profile.cleanup()
