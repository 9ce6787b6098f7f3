#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Drives Debian's headless Chromium over the DevTools protocol (python3-websocket) to check xlbd's
# status page: loads it, waits for two refreshes, reads the figures it shows from the DOM, runs
# the traffic command, waits for two more refreshes, reads them again, saves a screenshot, and
# prints {"before": ..., "after": ..., "errors": [...]} as JSON. Errors are console errors,
# uncaught exceptions and failed loads the browser reported.
#   ui_check.py URL SCREENSHOT.png 'TRAFFIC COMMAND'
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket

# The page's figures as a test reads them (data attributes the page sets, and its tables).
EXTRACT = r"""(() => {
  const rows = (sel, f) => Array.from(document.querySelectorAll(sel)).map(f);
  const t = (el) => el ? el.textContent : null;
  return {
    polls: Number(document.body.dataset.polls || 0),
    created: Number(t(document.getElementById('created'))),
    synflood_active: Number(document.getElementById('synflood').dataset.active || 0),
    xdp: t(document.getElementById('xdp')),
    errors_shown: document.getElementById('errors').hidden ? '' : t(document.getElementById('errors')),
    states: Object.fromEntries(rows('#states tbody tr', (r) => [r.dataset.state, Number(r.cells[1].textContent)])),
    backends: rows('#backends tbody tr', (r) => ({vip: r.dataset.vip, address: r.dataset.backend,
      weight: Number(r.cells[3].textContent), state: r.cells[4].textContent,
      health: r.cells[5].textContent, total: Number(r.cells[8].textContent)})),
    drops: Object.fromEntries(rows('#drops tbody tr', (r) => [r.dataset.reason, Number(r.cells[1].textContent)])),
    blocklist: rows('#blocklist tbody tr', (r) => ({cidr: r.dataset.cidr, hits: Number(r.cells[1].textContent),
      source: r.cells[2].textContent})),
    chart_new_points: Number(document.getElementById('chart-new').dataset.points || 0),
    chart_new_last: Number(document.getElementById('chart-new').dataset.last || 0),
    chart_drop_lines: Number(document.getElementById('chart-drops').dataset.lines || 0),
  };
})()"""


class Page:
    def __init__(self, ws_url):
        self.ws = websocket.create_connection(ws_url, timeout=30)
        self.next_id = 0
        self.errors = []

    def _event(self, m):
        method, p = m.get("method"), m.get("params", {})
        if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            self.errors.append("console: " + " ".join(str(a.get("value", a.get("description", "")))
                                                      for a in p.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            self.errors.append("exception: " + d.get("exception", {}).get("description", d.get("text", "")))
        elif method == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            self.errors.append("log: " + p["entry"].get("text", "") + " " + p["entry"].get("url", ""))

    def call(self, method, **params):
        self.next_id += 1
        my = self.next_id
        self.ws.send(json.dumps({"id": my, "method": method, "params": params}))
        while True:
            m = json.loads(self.ws.recv())
            if m.get("id") == my:
                if "error" in m:
                    raise RuntimeError(method + ": " + json.dumps(m["error"]))
                return m.get("result", {})
            self._event(m)

    def evaluate(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        return r.get("result", {}).get("value")

    def wait_polls(self, at_least, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if (self.evaluate("Number(document.body ? document.body.dataset.polls || 0 : 0)") or 0) >= at_least:
                return True
            time.sleep(0.2)
        return False


def start_browser(profile):
    proc = subprocess.Popen(
        ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-extensions", "--window-size=1280,1400", "--remote-debugging-port=0",
         "--user-data-dir=" + profile, "about:blank"],
        # Chromium keeps its singleton socket in a directory of its own under TMPDIR, which it
        # removes only on a clean exit: inside the profile it goes with the profile.
        env=dict(os.environ, TMPDIR=profile),
        # Its own process group, so that the renderer and the zygote go with it: killed alone,
        # the browser left children that outlived it, most likely what wrote into the profile
        # after it was removed (a profile was once left behind).
        start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port_file = os.path.join(profile, "DevToolsActivePort")
    for _ in range(150):
        if os.path.exists(port_file):
            with open(port_file) as f:
                port = f.readline().strip()
            if port:
                return proc, int(port)
        time.sleep(0.1)
    stop_browser(proc)
    raise RuntimeError("chromium did not open its DevTools port")


def stop_browser(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def remove_profile(profile):
    # A child of the browser may still be exiting; the directory is gone once nobody writes to it.
    for _ in range(50):
        shutil.rmtree(profile, ignore_errors=True)
        if not os.path.exists(profile):
            return
        time.sleep(0.1)


def main():
    url, shot, traffic = sys.argv[1], sys.argv[2], sys.argv[3]
    profile = tempfile.mkdtemp(prefix="xlb-ui-")
    proc = None
    try:
        proc, port = start_browser(profile)
        req = urllib.request.Request("http://127.0.0.1:%d/json/new?about:blank" % port, method="PUT")
        target = json.load(urllib.request.urlopen(req, timeout=10))
        page = Page(target["webSocketDebuggerUrl"])
        for domain in ("Runtime", "Log", "Page"):
            page.call(domain + ".enable")
        page.call("Page.navigate", url=url)
        out = {"errors": page.errors, "profile": profile}
        if not page.wait_polls(2, 20):
            out["errors"].append("the page did not refresh twice in 20 s")
        out["before"] = page.evaluate(EXTRACT)
        out["traffic_status"] = subprocess.run(traffic, shell=True, timeout=120,
                                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
        if not page.wait_polls(out["before"]["polls"] + 2, 20):
            out["errors"].append("the page stopped refreshing")
        out["after"] = page.evaluate(EXTRACT)
        png = page.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        with open(shot, "wb") as f:
            f.write(base64.b64decode(png["data"]))
        print(json.dumps(out))
    finally:
        if proc:
            stop_browser(proc)
        remove_profile(profile)


if __name__ == "__main__":
    main()
