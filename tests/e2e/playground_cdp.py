#!/usr/bin/env python3
"""Opens the GraphiQL playground in headless Chromium, types a query into the
editor with real key input (Chrome DevTools Protocol), runs it with the
execute button and prints the response pane once it holds data.
Usage: playground_cdp.py PAGE_URL QUERY NEEDLE. Exit 1 (with the page state) on failure."""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket

page_url, query, needle = sys.argv[1], sys.argv[2], sys.argv[3]
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
profile = tempfile.mkdtemp(prefix="dg-chromium-")
browser = subprocess.Popen(
    ["chromium", "--headless", "--no-sandbox", "--disable-gpu", f"--remote-debugging-port={port}",
     f"--user-data-dir={profile}", "about:blank"],
    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def fail(msg):
    print(msg)
    browser.kill()
    sys.exit(1)


try:
    deadline = time.time() + 30
    target = None
    while time.time() < deadline and target is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json") as r:
                target = next(t for t in json.load(r) if t["type"] == "page")
        except (OSError, StopIteration):
            time.sleep(0.2)
    if target is None:
        fail("chromium did not start")
    ws = websocket.create_connection(target["webSocketDebuggerUrl"], timeout=30, suppress_origin=True)
    ids = iter(range(1, 10**6))

    def cdp(method, **params):
        i = next(ids)
        ws.send(json.dumps({"id": i, "method": method, "params": params}))
        while True:
            m = json.loads(ws.recv())
            if m.get("id") == i:
                if "error" in m:
                    fail(f"{method}: {m['error']}")
                return m.get("result", {})

    def js(expr):
        r = cdp("Runtime.evaluate", expression=expr, returnByValue=True)
        return r.get("result", {}).get("value")

    def wait_for(expr, what, seconds=20):
        end = time.time() + seconds
        while time.time() < end:
            v = js(expr)
            if v:
                return v
            time.sleep(0.2)
        fail(f"timed out waiting for {what}; page text:\n{js('document.body.innerText')}")

    cdp("Page.enable")
    cdp("Page.navigate", url=page_url)
    editor = "document.querySelector('.graphiql-query-editor .CodeMirror')"
    wait_for(f"!!{editor}", "the GraphiQL query editor")
    # Clear the editor, focus it, and type the query as keystrokes.
    js(f"{editor}.CodeMirror.setValue(''); {editor}.CodeMirror.focus(); true")
    cdp("Input.insertText", text=query)
    typed = js(f"{editor}.CodeMirror.getValue()")
    if typed != query:
        fail(f"the editor holds {typed!r}, not the typed query")
    js("document.querySelector('.graphiql-execute-button').click(); true")
    response = "document.querySelector('.graphiql-response .CodeMirror')"
    text = wait_for(f"(() => {{ const v = {response} && {response}.CodeMirror.getValue(); "
                    f"return v && v.includes({json.dumps(needle)}) ? v : null; }})()", "data in the response pane")
    print(text)
finally:
    browser.kill()
    browser.wait()
