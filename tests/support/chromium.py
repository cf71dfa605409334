"""Open a local HTML file in headless Chromium and report what the browser saw.

Chromium is driven through the DevTools protocol over a pipe (``--remote-debugging-pipe``:
commands on fd 3, replies on fd 4, each a JSON message ended by a NUL byte), so no port,
no network and no third-party client are needed. The browser reports every console
message, uncaught exception, log entry (CSP violations, failed loads) and network request
of the page; the caller decides which of those are failures.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import IO, Any

#: Flags that keep a headless Chromium off the network and out of the user's profile.
FLAGS = (
    "--headless",
    "--no-sandbox",  # CI runs as root, where the sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--mute-audio",
)
_TIMEOUT_S = 60.0


#: Set to ``1`` (CI does) to make a missing Chromium fail the browser test instead of
#: skipping it.
REQUIRE_VARIABLE = "REPROCHECK_REQUIRE_CHROMIUM"
#: How to get the browser; the tests never install it themselves.
INSTALL_HINT = (
    "install it first (Debian/Ubuntu: `sudo apt-get install chromium`), "
    "or set REPROCHECK_CHROMIUM to a Chromium binary"
)


def find_chromium() -> str | None:
    """The Chromium binary: ``$REPROCHECK_CHROMIUM``, else the first of the usual names.

    None when there is none; a ``$REPROCHECK_CHROMIUM`` that names no executable counts as
    none (it is never replaced by another browser behind the caller's back).
    """
    named = os.environ.get("REPROCHECK_CHROMIUM")
    if named:
        return shutil.which(named)
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def chromium_required() -> bool:
    """Whether ``$REPROCHECK_REQUIRE_CHROMIUM`` asks for a missing browser to fail."""
    return os.environ.get(REQUIRE_VARIABLE, "").strip() not in ("", "0")


def missing_chromium_message() -> str:
    """Why there is no browser and how to get one (the skip reason or the failure)."""
    named = os.environ.get("REPROCHECK_CHROMIUM")
    if named:
        what = f"REPROCHECK_CHROMIUM={named!r} is not an executable Chromium"
    else:
        what = "no Chromium on PATH (chromium, chromium-browser, google-chrome)"
    return f"{what}: {INSTALL_HINT}"


@dataclasses.dataclass
class PageReport:
    """What happened while the page loaded.

    Attributes:
        console: ``(type, text)`` of every console API call.
        exceptions: the text of every uncaught exception.
        log: ``(level, source, text)`` of every browser log entry (CSP, network, ...).
        requests: the URL of every request the page made (its own URL included).
        failed: ``(url, error)`` of every request that failed.
        images: per ``<img>`` in a ``figure.plot``: complete, naturalWidth, width, height.
        screenshot: where the full-page PNG was written.
    """

    console: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    exceptions: list[str] = dataclasses.field(default_factory=list)
    log: list[tuple[str, str, str]] = dataclasses.field(default_factory=list)
    requests: list[str] = dataclasses.field(default_factory=list)
    failed: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    images: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    screenshot: Path | None = None


class _Pipe:
    """DevTools protocol over Chromium's pipe: send commands, wait for replies and events."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdin is not None
        assert proc.stdout is not None
        self._proc = proc
        self._out: IO[bytes] = proc.stdin
        self._next_id = 0
        self._messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.events: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, args=(proc.stdout,), daemon=True)
        self._reader.start()

    def close(self) -> None:
        """Close our ends of the pipes once the browser is gone."""
        self._out.close()
        self._reader.join(timeout=10)
        assert self._proc.stdout is not None
        self._proc.stdout.close()

    def _read(self, stream: IO[bytes]) -> None:
        buffer = b""
        while chunk := stream.read1(65536):  # type: ignore[attr-defined]
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            for raw in messages:
                self._messages.put(json.loads(raw))
        self._messages.put(None)

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        """Send a command and return its result (events that arrive meanwhile are kept)."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        self._out.write(json.dumps(message).encode() + b"\0")
        self._out.flush()
        while True:
            reply = self._get(method)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            if "method" in reply:
                self.events.append(reply)

    def notify(self, method: str) -> None:
        """Send a browser-level command without waiting for a reply."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": {}}
        self._out.write(json.dumps(message).encode() + b"\0")
        self._out.flush()

    def wait_for(self, event: str) -> dict[str, Any]:
        """Wait for the next ``event``, keeping every other event."""
        for seen in self.events:
            if seen["method"] == event:
                return seen
        while True:
            reply = self._get(event)
            if "method" in reply:
                self.events.append(reply)
                if reply["method"] == event:
                    return reply

    def _get(self, waiting_for: str) -> dict[str, Any]:
        try:
            reply = self._messages.get(timeout=_TIMEOUT_S)
        except queue.Empty:
            raise TimeoutError(f"Chromium did not answer {waiting_for} in {_TIMEOUT_S}s") from None
        if reply is None:
            raise RuntimeError(f"Chromium exited while waiting for {waiting_for}")
        return reply


_IMAGES_JS = """JSON.stringify(Array.from(document.querySelectorAll('figure.plot img')).map(
  (img) => { const r = img.getBoundingClientRect();
    return {complete: img.complete, naturalWidth: img.naturalWidth,
            width: r.width, height: r.height}; }))"""


def open_page(
    chromium: str, page: Path, screenshot: Path, *, width: int = 1400, height: int = 2400
) -> PageReport:
    """Load ``page`` (a local file), wait for it, inspect its plots and save a screenshot.

    The screenshot covers the whole page (at most 16000 px tall), ``width`` pixels wide.
    """
    url = page.resolve().as_uri()
    report = PageReport()
    with tempfile.TemporaryDirectory(prefix="reprocheck-chromium-") as profile:
        # The shell moves our pipes to fds 3 (commands) and 4 (replies), where Chromium
        # expects them, and gives Chromium's own stdin/stdout /dev/null.
        script = 'exec "$@" 3<&0 4>&1 </dev/null >/dev/null'
        args = [
            *FLAGS,
            "--remote-debugging-pipe",
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            "about:blank",
        ]
        with tempfile.TemporaryFile() as stderr:
            proc = subprocess.Popen(
                ["/bin/sh", "-c", script, "sh", chromium, *args],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
            )
            pipe = _Pipe(proc)
            try:
                _drive(pipe, url, report, screenshot, width=width, height=height)
            except (RuntimeError, TimeoutError) as exc:
                stderr.seek(0)
                tail = stderr.read().decode(errors="replace")[-3000:]
                raise RuntimeError(f"{exc}; Chromium's stderr ends with:\n{tail}") from exc
            finally:
                if proc.poll() is None:
                    proc.kill()
                proc.wait(timeout=30)
                pipe.close()
    return report


def _drive(
    pipe: _Pipe, url: str, report: PageReport, screenshot: Path, *, width: int, height: int
) -> None:
    target = pipe.send("Target.createTarget", url="about:blank")["targetId"]
    session = pipe.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    for domain in ("Page", "Runtime", "Log", "Network"):
        pipe.send(f"{domain}.enable", session)
    metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
    pipe.send("Emulation.setDeviceMetricsOverride", session, **metrics)
    pipe.events.clear()  # only what the page itself does counts
    pipe.send("Page.navigate", session, url=url)
    pipe.wait_for("Page.loadEventFired")
    images = pipe.send("Runtime.evaluate", session, expression=_IMAGES_JS, returnByValue=True)
    report.images = json.loads(images["result"]["value"])
    layout = pipe.send("Page.getLayoutMetrics", session)
    full = min(int(layout["cssContentSize"]["height"]) + 1, 16000)
    pipe.send("Emulation.setDeviceMetricsOverride", session, **{**metrics, "height": full})
    shot = pipe.send("Page.captureScreenshot", session, format="png")
    screenshot.write_bytes(base64.b64decode(shot["data"]))
    report.screenshot = screenshot
    urls: dict[str, str] = {}
    for event in pipe.events:
        params = event.get("params", {})
        method = event["method"]
        if method == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"])
            report.console.append((params["type"], text))
        elif method == "Runtime.exceptionThrown":
            report.exceptions.append(str(params["exceptionDetails"].get("text")))
        elif method == "Log.entryAdded":
            entry = params["entry"]
            report.log.append((entry["level"], entry["source"], entry["text"]))
        elif method == "Network.requestWillBeSent":
            urls[params["requestId"]] = params["request"]["url"]
            report.requests.append(params["request"]["url"])
        elif method == "Network.loadingFailed":
            url = urls.get(params["requestId"], params["requestId"])
            report.failed.append((url, params.get("errorText", "")))
    pipe.notify("Browser.close")  # the browser exits before it could answer
