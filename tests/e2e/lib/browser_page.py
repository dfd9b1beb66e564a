#!/usr/bin/env python3
"""Opens a local HTML file in headless Chromium and says what the page did.

Usage: browser_page.py CHROMIUM FILE

Prints one JSON object: {"text": the page's rendered text (document.body.innerText),
"requests": every URL the page asked for besides its own file, blocked ones included}.

It drives Chromium over the DevTools protocol on a pipe (--remote-debugging-pipe: no
port, nothing to connect to from outside) and listens to the page's own network events,
so the browser's background traffic (update checks, dictionaries) is not counted and
the page's is, whatever its scheme. Exit status 1 when the page cannot be opened.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

SETTLE_SECONDS = 1.0  # after the load event: late requests (fonts, CSS images) start by then
DEADLINE_SECONDS = 45


class Browser:
    def __init__(self, chromium, profile):
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()

        def pipes_on_3_and_4():
            # Copied out of the way first: either pipe end may itself be fd 3 or 4.
            commands, answers = os.dup(to_browser_r), os.dup(from_browser_w)
            os.dup2(commands, 3)
            os.dup2(answers, 4)

        self.proc = subprocess.Popen(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--remote-debugging-pipe",
             "--user-data-dir=" + profile, "--no-first-run", "--no-default-browser-check",
             "--disable-background-networking", "--disable-component-update", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=None if os.environ.get("BROWSER_PAGE_DEBUG") else subprocess.DEVNULL,
            preexec_fn=pipes_on_3_and_4, pass_fds=(3, 4))
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.buffer = b""
        self.next_id = 0
        self.events = []
        self.deadline = time.monotonic() + DEADLINE_SECONDS

    def _read_message(self):
        while b"\0" not in self.buffer:
            if time.monotonic() > self.deadline:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self.from_browser, 65536)
            if not chunk:
                raise EOFError("Chromium closed the DevTools pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method, params=None, session=None):
        self.next_id += 1
        command = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            command["sessionId"] = session
        os.write(self.to_browser, json.dumps(command).encode() + b"\0")
        while True:
            message = self._read_message()
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for_event(self, method):
        for i, message in enumerate(self.events):
            if message.get("method") == method:
                del self.events[i]
                return message
        while True:
            message = self._read_message()
            if message.get("method") == method:
                return message
            self.events.append(message)

    def close(self):
        try:
            self.call("Browser.close")
        except (OSError, EOFError, RuntimeError, TimeoutError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def open_page(chromium, path):
    url = "file://" + os.path.abspath(path)
    with tempfile.TemporaryDirectory(prefix="browser-page-") as profile:
        browser = Browser(chromium, profile)
        try:
            target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            browser.call("Network.enable", session=session)
            browser.call("Page.enable", session=session)
            browser.call("Page.navigate", {"url": url}, session=session)
            browser.wait_for_event("Page.loadEventFired")
            time.sleep(SETTLE_SECONDS)
            text = browser.call("Runtime.evaluate", {"expression": "document.body.innerText", "returnByValue": True},
                                session=session)["result"].get("value", "")
            # Every event read so far, including those that arrived during the evaluation.
            requests = [e["params"]["request"]["url"] for e in browser.events
                        if e.get("method") == "Network.requestWillBeSent" and e["params"]["request"]["url"] != url]
        finally:
            browser.close()
    return {"text": text, "requests": requests}


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: browser_page.py CHROMIUM FILE")
    try:
        print(json.dumps(open_page(sys.argv[1], sys.argv[2]), indent=1))
    except (OSError, EOFError, RuntimeError, TimeoutError, KeyError) as e:
        sys.exit(f"browser_page.py: {e}")


if __name__ == "__main__":
    main()
