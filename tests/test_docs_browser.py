"""The API docs page in a real browser: /api/docs, served by gunicorn, works offline.

Headless Chromium (Debian's ``/usr/bin/chromium`` driven by Playwright, on the fresh
temporary profile of every launch) opens ``/api/docs`` on a real gunicorn
(tests/servers.py). The network is blocked twice: Chromium resolves no host name but
127.0.0.1 (``--host-resolver-rules``), and a route on the browser context aborts, and
records, every request for another host or port. Proven:

* Swagger UI renders one operation block per operation of /api/openapi.json, every
  operationId, a section per tag, the title and version; a full-page screenshot is
  saved (api-docs.png in ``$TASKAPI_TEST_ARTIFACTS``, else build/test-artifacts/);
* "Authorize" says how to get a token and takes one; "Try it out" on getCurrentUser
  then answers 200 with the user;
* meanwhile no request failed or was blocked, no status >= 400, no console error (a
  Content-Security-Policy violation is one), no page error;
* all that under the page's Content-Security-Policy, whose script-src has no
  ``'unsafe-inline'``: the start-up script runs by its nonce.

Without Chromium or Playwright the tests are skipped, or fail under
``TASKAPI_TEST_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.helpers import PASSWORD, requirement_missing
from tests.servers import REPO_ROOT, Server, log_shown_on_failure, sqlite_server

# One xdist worker runs the module: its server (module scope) starts once.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("docs-browser")]

CHROMIUM = Path("/usr/bin/chromium")
#: Set to 1 (as .ci/run does) and a missing browser fails these tests instead of skipping.
REQUIRED_BY = "TASKAPI_TEST_REQUIRE_BROWSER"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]
TIMEOUT_MS = 120_000  # generous: Swagger UI's 1.5 MB bundle on a busy machine
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@dataclass
class Trouble:
    """What went wrong in the page; every list must stay empty."""

    blocked: list[str] = field(default_factory=list)  # aborted by the route
    failed: list[str] = field(default_factory=list)  # "requestfailed" (blocked ones too)
    error_status: list[str] = field(default_factory=list)  # responses >= 400
    console: list[str] = field(default_factory=list)  # console errors
    page_errors: list[str] = field(default_factory=list)  # uncaught exceptions

    def assert_none(self) -> None:
        assert self.blocked == [], f"requests that tried to leave 127.0.0.1: {self.blocked}"
        assert self.failed == [], f"failed requests: {self.failed}"
        assert self.error_status == [], f"responses with status >= 400: {self.error_status}"
        assert self.console == [], f"console errors: {self.console}"
        assert self.page_errors == [], f"page errors: {self.page_errors}"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with sqlite_server(tmp_path_factory, "docs-browser") as server:
        yield server


@pytest.fixture(scope="module")
def spec(server) -> dict:
    status, _, body = server.request("GET", "/api/openapi.json")
    assert status == 200, body
    return body


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        requirement_missing(f"{CHROMIUM} is missing (apt-get install chromium)", REQUIRED_BY)
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        requirement_missing("the playwright module is missing (pip install -e '.[test]')",
                            REQUIRED_BY)
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def trouble() -> Trouble:
    return Trouble()


@pytest.fixture
def page(request, browser, server, trouble):
    """A page in a new context whose requests may only reach ``server``; what goes
    wrong is written to ``trouble``."""

    def only_this_server(route):
        url = urlsplit(route.request.url)
        if url.scheme in ("http", "https") and (url.hostname, url.port) == (
                "127.0.0.1", server.port):
            route.continue_()
        else:
            trouble.blocked.append(route.request.url)
            route.abort("blockedbyclient")

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    context.route("**/*", only_this_server)
    page = context.new_page()
    page.on("requestfailed", lambda r: trouble.failed.append(f"{r.url}: {r.failure}"))
    page.on("response", lambda r: r.status >= 400
            and trouble.error_status.append(f"{r.status} {r.request.method} {r.url}"))
    page.on("console", lambda m: m.type == "error"
            and trouble.console.append(f"{m.text} at {m.location}"))
    page.on("pageerror", lambda error: trouble.page_errors.append(str(error)))
    with log_shown_on_failure(request, server):
        try:
            yield page
        finally:
            context.close()


def open_docs(page, server: Server):
    """Open /api/docs; assert its script policy allows no inline script but by nonce."""
    response = page.goto(f"{server.base_url}/api/docs")
    policy = response.headers["content-security-policy"]
    (script_src,) = [part.split()[1:] for part in policy.split(";")
                     if part.split()[:1] == ["script-src"]]
    assert "'unsafe-inline'" not in script_src, policy
    assert "'self'" in script_src and any(v.startswith("'nonce-") for v in script_src), policy
    page.locator(".opblock").first.wait_for()


def operations(spec: dict) -> list[dict]:
    return [operation for item in spec["paths"].values()
            for method, operation in item.items() if method in HTTP_METHODS]


def save_screenshot(page) -> Path:
    """A full-page PNG in ``$TASKAPI_TEST_ARTIFACTS`` or build/test-artifacts/."""
    directory = Path(os.environ.get("TASKAPI_TEST_ARTIFACTS")
                     or REPO_ROOT / "build" / "test-artifacts")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "api-docs.png"
    path.unlink(missing_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path


def test_docs_page_renders_every_operation_offline(page, trouble, server, spec,
                                                   record_property):
    from playwright.sync_api import expect

    open_docs(page, server)
    expected = operations(spec)
    expect(page.locator(".opblock")).to_have_count(len(expected))

    shown_ids = [text.strip() for text in
                 page.locator(".opblock-summary-operation-id").all_inner_texts()]
    missing = [op["operationId"] for op in expected
               if "operationId" in op and op["operationId"] not in shown_ids]
    assert missing == [], f"operationIds not on the page: {missing}"
    sections = page.locator("h3.opblock-tag").evaluate_all("hs => hs.map(h => h.dataset.tag)")
    missing = [tag["name"] for tag in spec.get("tags", []) if tag["name"] not in sections]
    assert missing == [], f"tags without a section: {missing} (sections: {sections})"
    expect(page.locator(".info .title")).to_contain_text(spec["info"]["title"])
    expect(page.locator(".info .title .version").first).to_have_text(
        spec["info"]["version"])

    screenshot = save_screenshot(page)
    data = screenshot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{screenshot} is not a PNG"
    assert len(data) > 10_000, f"{screenshot} is only {len(data)} bytes"
    print(f"\nscreenshot of /api/docs: {screenshot}")
    record_property("screenshot", str(screenshot))
    trouble.assert_none()


def test_authorize_then_try_it_out_on_get_current_user(page, trouble, server, spec):
    from playwright.sync_api import expect

    email = "docs-browser@example.com"
    status, _, body = server.request(
        "POST", "/api/v1/auth/register", {"email": email, "password": PASSWORD, "name": "D"})
    assert status == 201, body
    status, _, body = server.request(
        "POST", "/api/v1/auth/login", {"email": email, "password": PASSWORD})
    assert status == 200, body
    token = body["access_token"]
    open_docs(page, server)

    dropdown = page.locator(".servers select")
    if dropdown.count():  # "Try it out" calls the chosen server: this one
        urls = dropdown.locator("option").evaluate_all("os => os.map(o => o.value)")
        here = [url for url in urls  # relative ("/"), or this origin
                if urlsplit(url).netloc in ("", f"127.0.0.1:{server.port}")]
        assert here, f"no relative or same-origin server in the spec: {urls}"
        dropdown.select_option(here[0])

    page.locator(".auth-wrapper button.authorize").click()
    scheme = page.locator(".dialog-ux .auth-container").filter(has_text="bearerAuth")
    description = spec["components"]["securitySchemes"]["bearerAuth"]["description"]
    told = " ".join(re.sub(r"[`*_]", "", description).split())[:30]
    expect(scheme).to_contain_text(told)
    scheme.locator("input").fill(token)
    scheme.locator("button[type=submit]").click()
    expect(scheme.locator("button", has_text="Logout")).to_be_visible()
    # One Close button per security scheme (bearerAuth, personalAccessToken).
    page.locator(".dialog-ux button.btn-done").first.click()
    expect(page.locator(".dialog-ux")).to_have_count(0)

    operation = page.locator(".opblock").filter(has=page.locator(
        ".opblock-summary-operation-id", has_text=re.compile(r"^getCurrentUser$")))
    operation.locator(".opblock-summary-control").click()
    operation.locator("button.try-out__btn").click()
    operation.locator("button.execute").click()
    response = operation.locator(".live-responses-table .response")
    expect(response.locator(".response-col_status")).to_have_text("200")
    expect(response.locator(".response-col_description")).to_contain_text(email)
    trouble.assert_none()
