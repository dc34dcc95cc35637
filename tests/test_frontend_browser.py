"""The original web frontend's way of calling the API, in a real browser, on gunicorn.

The test serves a small page (:data:`PAGE`, from a second origin on 127.0.0.1) whose
script calls taskapi with ``fetch`` exactly as the original Next.js frontend does
(its ``src/lib/api.ts`` and ``src/lib/auth.ts``):

* tokens live in ``localStorage`` (``auth-token``, ``refresh-token``);
* a task is created with the frontend's body, camelCase ``dueDate`` included, and
  shown with ``new Date(task.dueDate).toLocaleDateString()``;
* every 401 triggers a refresh of its own (``POST /api/auth/refresh`` with
  ``{"refresh_token"}``), without coordination, then one retry; a 401 after that
  logs the user out;
* an error shows ``detail`` (else the frontend's generic message);
* logout sends only the access token.

Headless Chromium (Debian's ``/usr/bin/chromium``, driven by Playwright) walks it
against ``gunicorn -c gunicorn.conf.py`` with 3-second access tokens, on SQLite and
(when the suite has one) PostgreSQL, across origins (CORS preflights included):
register with a 6-character password and see "Length must be between 8 and 128.";
register properly; create a task with a due date and see it listed with that date;
let the access token expire and load two things in parallel: both 401, both
refresh with the same refresh token, and the user stays logged in with both
answers shown; log out and see the refresh token refused. The database is checked
after each step. Without Chromium or Playwright the test is skipped, or fails under
``TASKAPI_TEST_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from tests.helpers import PASSWORD
from tests.servers import Server, database_url, free_port, log_shown_on_failure
from tests.test_docs_browser import browser  # noqa: F401 - the same Chromium fixture

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("frontend-browser")]

ACCESS_SECONDS = 3  # access token lifetime on the test server

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tasks</title></head>
<body>
<form id="signup">
  <input id="name" placeholder="Name"><input id="email" placeholder="Email">
  <input id="password" type="password" placeholder="Password">
  <button type="submit">Sign up</button>
</form>
<p id="auth-error" role="alert"></p>
<p id="session"></p>
<form id="new-task">
  <input id="title" placeholder="Title"><input id="due" type="date">
  <select id="priority"><option>low</option><option selected>medium</option>
    <option>high</option></select>
  <button type="submit">Add task</button>
</form>
<p id="task-error" role="alert"></p>
<button id="reload-both">Reload</button>
<button id="logout">Log out</button>
<button id="old-refresh">Try the old refresh token</button>
<ul id="tasks"></ul>
<p id="detail-view"></p>
<p id="old-refresh-result"></p>
<script>
const API = "__API__";
const store = {
  get token() { return localStorage.getItem("auth-token"); },
  get refresh() { return localStorage.getItem("refresh-token"); },
  set(data) {
    localStorage.setItem("auth-token", data.token);
    if (data.refresh_token) localStorage.setItem("refresh-token", data.refresh_token);
  },
  clear() { localStorage.removeItem("auth-token"); localStorage.removeItem("refresh-token"); },
};
let userId = null;
let firstTaskId = null;
let refreshesSent = 0;

function authHeaders(token) {
  const headers = {"Content-Type": "application/json"};
  return token ? {...headers, "Authorization": `Bearer ${token}`} : headers;
}

async function refreshAuthToken() {   // as the frontend's auth.ts: no coordination
  const refreshToken = store.refresh;
  if (!refreshToken) return null;
  refreshesSent += 1;
  const response = await fetch(`${API}/api/auth/refresh`, {
    method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({refresh_token: refreshToken}),
  });
  if (!response.ok) { store.clear(); return null; }
  const data = await response.json();
  store.set(data);
  return data;
}

async function request(endpoint, options = {}) {   // as the frontend's api.ts
  const config = {headers: authHeaders(store.token), ...options};
  let response = await fetch(`${API}${endpoint}`, config);
  if (response.status === 401) {
    const refreshed = await refreshAuthToken();
    if (refreshed && refreshed.token) {
      response = await fetch(`${API}${endpoint}`,
        {...config, headers: {...config.headers, "Authorization": `Bearer ${refreshed.token}`}});
    }
    if (response.status === 401) {
      document.getElementById("session").textContent = "logged out";
      throw new Error("Unauthorized: Please log in again");
    }
  }
  if (!response.ok) {
    const errorData = await response.json();
    throw new Error(errorData.detail || errorData.message || "Request failed");
  }
  return response.json();
}

function showTasks(tasks) {
  const list = document.getElementById("tasks");
  list.replaceChildren(...tasks.map(task => {
    const item = document.createElement("li");
    item.textContent = task.title + (task.dueDate
      ? " | Due: " + new Date(task.dueDate).toLocaleDateString("en-US", {timeZone: "UTC"})
      : "");
    return item;
  }));
}

document.getElementById("signup").addEventListener("submit", async event => {
  event.preventDefault();
  document.getElementById("auth-error").textContent = "";
  const response = await fetch(`${API}/api/auth/register`, {
    method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({
      email: document.getElementById("email").value,
      password: document.getElementById("password").value,
      name: document.getElementById("name").value,
    }),
  });
  if (!response.ok) {
    const errorData = await response.json();
    document.getElementById("auth-error").textContent =
      errorData.detail || "Registration failed. Please try again.";
    return;
  }
  const data = await response.json();
  store.set(data);
  userId = data.user.id;
  document.getElementById("session").textContent = "logged in as " + data.user.email;
});

document.getElementById("new-task").addEventListener("submit", async event => {
  event.preventDefault();
  document.getElementById("task-error").textContent = "";
  const due = document.getElementById("due").value;
  try {
    const task = await request(`/api/${userId}/tasks`, {
      method: "POST",
      body: JSON.stringify({
        title: document.getElementById("title").value, description: "",
        completed: false, priority: document.getElementById("priority").value,
        dueDate: due || undefined,
      }),
    });
    firstTaskId = firstTaskId || task.id;
    showTasks(await request(`/api/${userId}/tasks`));
  } catch (error) {
    document.getElementById("task-error").textContent = "Error: " + error.message;
  }
});

document.getElementById("reload-both").addEventListener("click", async () => {
  try {   // two calls at once, as the dashboard makes them
    const [tasks, one] = await Promise.all([
      request(`/api/${userId}/tasks`), request(`/api/${userId}/tasks/${firstTaskId}`)]);
    showTasks(tasks);
    document.getElementById("detail-view").textContent = "detail: " + one.title;
  } catch (error) {
    document.getElementById("task-error").textContent = "Error: " + error.message;
  }
});

document.getElementById("logout").addEventListener("click", async () => {
  window.refreshTokenAtLogout = store.refresh;
  await fetch(`${API}/api/auth/logout`,   // only the access token, as the frontend
    {method: "POST", headers: authHeaders(store.token)});
  store.clear();
  document.getElementById("session").textContent = "logged out";
});

document.getElementById("old-refresh").addEventListener("click", async () => {
  const response = await fetch(`${API}/api/auth/refresh`, {
    method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({refresh_token: window.refreshTokenAtLogout}),
  });
  const body = await response.json();
  document.getElementById("old-refresh-result").textContent =
    response.status + " " + (body.detail || "");
});
</script>
</body></html>
"""


class PageServer:
    """Serves :data:`PAGE` at ``/`` on 127.0.0.1:``port``, in a thread."""

    def __init__(self, api_base_url: str, port: int):
        self.port = port
        self.origin = f"http://127.0.0.1:{self.port}"
        body = PAGE.replace("__API__", api_base_url).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                if self.path != "/":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> PageServer:
        self.thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(params=["sqlite", "postgresql"])
def api(request, tmp_path):
    """taskapi on gunicorn with short access tokens, allowing the page's origin."""
    page_port = free_port()
    origin = f"http://127.0.0.1:{page_port}"
    settings = {"TASKAPI_JWT_ACCESS_TOKEN_EXPIRES": str(ACCESS_SECONDS),
                "TASKAPI_CORS_ORIGINS": origin}
    with Server(tmp_path, database_url(request.param, tmp_path), settings=settings) as server:
        server.page_port = page_port
        with log_shown_on_failure(request, server):
            yield server


def open_page(chromium, api: Server, page_server: PageServer, calls: list[str],
              problems: list[str]):
    """A page in a new context that may reach only the page server and the API."""
    allowed = {("127.0.0.1", api.port), ("127.0.0.1", page_server.port)}

    def only_local(route):
        url = urlsplit(route.request.url)
        if (url.hostname, url.port) in allowed:
            route.continue_()
        else:
            problems.append(f"blocked: {route.request.url}")
            route.abort("blockedbyclient")

    context = chromium.new_context()
    context.route("**/*", only_local)
    page = context.new_page()
    page.on("request", lambda r: r.method != "OPTIONS" and urlsplit(r.url).port == api.port
            and calls.append(f"{r.method} {urlsplit(r.url).path}"))
    page.on("requestfailed", lambda r: problems.append(f"failed: {r.url} {r.failure}"))
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.goto(page_server.origin + "/")
    return context, page


def session_rows(api: Server, user_id: int) -> list[tuple]:
    return api.database.query(
        "SELECT token_type, session_id, revoked_at, revoke_reason FROM issued_tokens "
        "WHERE user_id = :user_id ORDER BY id", user_id=user_id)


def test_original_frontend_walk(browser, api):  # noqa: F811 - the imported fixture
    from playwright.sync_api import expect

    calls: list[str] = []
    problems: list[str] = []
    with PageServer(api.base_url, api.page_port) as page_server:
        context, page = open_page(browser, api, page_server, calls, problems)
        try:
            walk(page, api, expect, calls)
        finally:
            context.close()
    assert problems == []


def walk(page, api: Server, expect, calls: list[str]) -> None:
    # 1. A 6-character password (the frontend allows 6): the reason is shown.
    page.fill("#name", "Walker")
    page.fill("#email", "walker@example.com")
    page.fill("#password", "abc123")
    page.click("#signup button")
    expect(page.locator("#auth-error")).to_have_text(
        "password: Length must be between 8 and 128.")
    assert api.database.scalar("SELECT count(*) FROM users") == 0

    # 2. Sign up properly: logged in, one session of two tokens.
    page.fill("#password", PASSWORD)
    page.click("#signup button")
    expect(page.locator("#session")).to_have_text("logged in as walker@example.com")
    user_id = api.database.scalar("SELECT id FROM users WHERE email = 'walker@example.com'")
    rows = session_rows(api, user_id)
    assert [row[0] for row in rows] == ["access", "refresh"]
    assert rows[0][1] == rows[1][1]

    # 3. Create with a due date (sent as dueDate): stored and listed with the date.
    page.fill("#title", "File the report")
    page.fill("#due", "2031-12-31")
    page.select_option("#priority", "high")
    page.click("#new-task button")
    expect(page.locator("#tasks li")).to_have_text(["File the report | Due: 12/31/2031"])
    page.fill("#title", "Call the plumber")
    page.fill("#due", "")
    page.select_option("#priority", "medium")
    page.click("#new-task button")
    # Creation order, as the original backend listed them.
    expect(page.locator("#tasks li")).to_have_text(
        ["File the report | Due: 12/31/2031", "Call the plumber"])
    expect(page.locator("#task-error")).to_have_text("")
    stored = api.database.query(
        "SELECT title, priority, due_at FROM tasks WHERE user_id = :u ORDER BY id", u=user_id)
    assert [(title, priority) for title, priority, _ in stored] == [
        ("File the report", "high"), ("Call the plumber", "medium")]
    assert str(stored[0][2]).startswith("2031-12-31 00:00:00") and stored[1][2] is None

    # 4. The access token expires; two calls at once both get 401 and both refresh
    #    with the same refresh token: both succeed, the user stays logged in.
    time.sleep(ACCESS_SECONDS + 1.5)
    before = len(calls)
    page.click("#reload-both")
    expect(page.locator("#detail-view")).to_have_text("detail: File the report")
    expect(page.locator("#task-error")).to_have_text("")
    expect(page.locator("#session")).to_have_text("logged in as walker@example.com")
    during = calls[before:]
    assert during.count("POST /api/auth/refresh") == 2, during
    rows = session_rows(api, user_id)
    assert len({row[1] for row in rows}) == 1, "every token in the one session"
    refresh_rows = [row for row in rows if row[0] == "refresh"]
    assert [row[3] for row in refresh_rows] == ["rotated", None, None], rows
    assert page.evaluate("localStorage.getItem('refresh-token')") is not None

    # 5. Log out (the frontend sends only the access token): the session ends, and
    #    the refresh token the page held is refused.
    page.click("#logout")
    expect(page.locator("#session")).to_have_text("logged out")
    page.click("#old-refresh")
    expect(page.locator("#old-refresh-result")).to_have_text("401 The token has been revoked.")
    rows = session_rows(api, user_id)
    assert all(row[2] is not None for row in rows), rows
    assert {row[3] for row in rows} == {"rotated", "logout"}, rows
