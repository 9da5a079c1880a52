"""/docs (Swagger UI) in Chromium under its own Content-Security-Policy: it renders every
operation, nothing is refused, and no other site may frame it."""
from __future__ import annotations

import http.server
import threading

import requests

DOCS_PAGES = ("/docs/", "/docs/swagger")


def test_the_docs_pages_have_a_strict_policy(live_server):
    for path in DOCS_PAGES:
        policy = requests.get(live_server.url + path, timeout=30).headers["Content-Security-Policy"]
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
        assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
        assert "'unsafe-inline'" not in directives["script-src"] and "'unsafe-eval'" not in policy
        assert "*" not in policy and "http:" not in policy


def test_swagger_ui_renders_under_its_policy(browser, live_server):
    context = browser.new_context()  # the page's CSP applies (no bypass)
    try:
        page = context.new_page()
        refused, errors = [], []
        page.on("console", lambda msg: refused.append(msg.text)
                if "Content Security Policy" in msg.text else None)
        page.on("pageerror", lambda error: errors.append(error))
        page.goto(live_server.url + "/docs/")
        page.click(".box")  # the chooser's inline onclick, allowed by its hash
        page.wait_for_url("**/docs/swagger")
        page.wait_for_selector(".opblock-summary-path", timeout=60_000)
        paths = page.locator(".opblock-summary-path").all_inner_texts()
        assert "/projects" in paths and len(paths) > 20
        page.locator(".opblock-summary", has_text="/users/me").first.click()
        page.wait_for_selector(".opblock-body")
        assert refused == [] and errors == [], (refused, errors)
    finally:
        context.close()


def test_another_site_cannot_frame_the_docs(browser, live_server):
    framing = f'<iframe id="docs" src="{live_server.url}/docs/swagger"></iframe>'.encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(framing)))
            self.end_headers()
            self.wfile.write(framing)

        def log_message(self, *_args):
            pass

    server = http.server.ThreadingHTTPServer(("localhost", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    context = browser.new_context()
    try:
        page = context.new_page()
        with page.expect_event("console", lambda msg: "frame-ancestors" in msg.text):
            page.goto(f"http://localhost:{server.server_address[1]}/")
        frame = page.frame_locator("#docs")
        assert frame.locator("#swagger-ui").count() == 0
    finally:
        context.close()
        server.shutdown()
        server.server_close()
