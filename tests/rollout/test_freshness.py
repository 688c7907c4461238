"""Every worker of a two-worker gunicorn serves plan and kill switch changes within 5 s.

The test binds a socket on 127.0.0.1 and hands it to gunicorn. It logs in and sends
requests until both workers have responded, which it distinguishes by the
X-Cadence-Worker header the app adds when CADENCE_EXPOSE_WORKER_PID is 1. Then it
makes a change and polls until each worker has served the new state. Every loop is bounded in time and in requests, and the server
is stopped in a ``finally``.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode
from urllib.request import HTTPCookieProcessor, Request, build_opener

import pytest

from tests.conftest import PASSWORD, REPO, require
from tests.rollout.conftest import DEMO_PLAN

pytestmark = pytest.mark.slow

GUNICORN = Path(sys.executable).with_name("gunicorn")
WORKERS = 2
PROPAGATION_LIMIT = 5.0
"""Seconds within which every worker must serve a change."""
OBSERVATION_SECONDS = 10.0
STARTUP_SECONDS = 30.0
MAX_REQUESTS = 2000
REQUEST_TIMEOUT = 5.0
WORKER_HEADER = "X-Cadence-Worker"
PLAN_WITHOUT_WORKLIST = """\
strategy: big_bang
cutover: 2014-01-01
flags:
  worklist:
    description: Prioritised worklist of customers with overdue invoices.
"""


class Browser:
    """A cookie-keeping HTTP client for one user of the server."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.opener = build_opener(HTTPCookieProcessor(CookieJar()))

    def request(self, path: str, data: dict | None = None) -> tuple[int, str, str]:
        """Return the status, the worker pid header and the body of a request."""
        body = urlencode(data).encode() if data is not None else None
        request = Request(self.base_url + path, data=body)
        try:
            response = self.opener.open(request, timeout=REQUEST_TIMEOUT)
        except HTTPError as error:
            response = error
        with response:
            return (
                response.status,
                response.headers.get(WORKER_HEADER, ""),
                response.read().decode("utf-8"),
            )

    def csrf_token(self, path: str) -> str:
        _status, _pid, page = self.request(path)
        match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    def log_in(self, email: str) -> None:
        token = self.csrf_token("/login")
        status, _pid, _page = self.request(
            "/login", {"email": email, "password": PASSWORD, "csrf_token": token}
        )
        assert status == 200


def _wait_for_server(browser: Browser, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    for _attempt in range(MAX_REQUESTS):
        if time.monotonic() > deadline:
            break
        assert process.poll() is None, "gunicorn exited:\n" + log.read_text()
        try:
            status, _pid, _page = browser.request("/login")
        except (URLError, ConnectionError, TimeoutError):
            status = None
        if status == 200:
            return
        time.sleep(0.2)
    pytest.fail("gunicorn did not serve /login within 30 s:\n" + log.read_text())


def _stop(process: subprocess.Popen, worker_pids: set[int]) -> None:
    """Stop the gunicorn master, then any worker it left behind."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    for pid in worker_pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _listening_socket() -> socket.socket:
    """Bind a socket on a free loopback port, so no other process can take it."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    return listener


@pytest.fixture
def server(app, people, database_url, tmp_path):
    """Serve the app with two gunicorn workers on the test database.

    Yields the base URL, the plan file, a set the test fills with the worker pids so
    that they can be stopped too, and the path of the server log.
    """
    require(GUNICORN.exists(), f"gunicorn not found at {GUNICORN}")
    plan = tmp_path / "feature_flags.yaml"
    plan.write_text(DEMO_PLAN.read_text(encoding="utf-8"), encoding="utf-8")
    log = tmp_path / "gunicorn.log"
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "freshness-test-secret",
        "CADENCE_FEATURE_FLAGS": str(plan),
        "CADENCE_BUSINESS_DATE": "2013-06-30",
        "CADENCE_INSTANCE_PATH": str(tmp_path / "instance"),
        "CADENCE_EXPOSE_WORKER_PID": "1",
    }
    # The workers must use the default refresh interval under test.
    environment.pop("CADENCE_ROLLOUT_REFRESH_SECONDS", None)

    listener = _listening_socket()
    port = listener.getsockname()[1]
    command = [
        str(GUNICORN),
        "--workers",
        str(WORKERS),
        "--bind",
        f"fd://{listener.fileno()}",
        "--graceful-timeout",
        "5",
        "app:create_app()",
    ]
    with open(log, "wb") as log_file:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env=environment,
            pass_fds=(listener.fileno(),),
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    listener.close()

    worker_pids: set[int] = set()
    try:
        base_url = f"http://127.0.0.1:{port}"
        _wait_for_server(Browser(base_url), process, log)
        yield base_url, plan, worker_pids, log
    finally:
        _stop(process, worker_pids)


def _reach_every_worker(browser: Browser, path: str) -> set[str]:
    """Request ``path`` in pairs until both workers responded, and return their pids."""
    pids: set[str] = set()
    deadline = time.monotonic() + OBSERVATION_SECONDS
    sent = 0
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        while (
            len(pids) < WORKERS and time.monotonic() < deadline and sent < MAX_REQUESTS
        ):
            answers = list(pool.map(lambda _: browser.request(path), range(WORKERS)))
            sent += WORKERS
            for status, pid, _page in answers:
                assert status == 200, f"{path} answered {status}"
                pids.add(pid)
    assert len(pids) == WORKERS, f"only workers {pids} answered {sent} requests"
    return pids


def _observe_change(browser: Browser, path: str, expected: int, pids: set[str]):
    """Poll ``path`` until every worker has responded with status ``expected``.

    Returns the seconds after which each worker first responded with it, and the
    latest time at which any worker still responded with another status.
    """
    started = time.monotonic()
    first_seen: dict[str, float] = {}
    last_stale = 0.0
    sent = 0
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        while (
            set(first_seen) != pids
            and time.monotonic() - started < OBSERVATION_SECONDS
            and sent < MAX_REQUESTS
        ):
            answers = list(pool.map(lambda _: browser.request(path), range(WORKERS)))
            sent += WORKERS
            elapsed = time.monotonic() - started
            for status, pid, _page in answers:
                if status == expected:
                    first_seen.setdefault(pid, elapsed)
                else:
                    last_stale = max(last_stale, elapsed)
    return first_seen, last_stale


def test_plan_edit_reaches_every_worker(server):
    base_url, plan, worker_pids, log = server
    collector = Browser(base_url)
    collector.log_in("collector406@test.example")
    pids = _reach_every_worker(collector, "/worklist")
    worker_pids.update(int(pid) for pid in pids)

    replacement = plan.with_suffix(".new")
    replacement.write_text(PLAN_WITHOUT_WORKLIST, encoding="utf-8")
    os.replace(replacement, plan)
    first_seen, last_stale = _observe_change(collector, "/worklist", 404, pids)

    assert set(first_seen) == pids, log.read_text()
    assert max(first_seen.values()) <= PROPAGATION_LIMIT
    assert last_stale <= PROPAGATION_LIMIT


def test_invalid_plan_edit_changes_nothing(server):
    base_url, plan, worker_pids, log = server
    collector = Browser(base_url)
    collector.log_in("collector406@test.example")
    pids = _reach_every_worker(collector, "/worklist")
    worker_pids.update(int(pid) for pid in pids)

    plan.write_text(
        "strategy: big_bang\ncutover: 2014-13-01\nflags: {}\n", encoding="utf-8"
    )
    time.sleep(3)
    answered = _reach_every_worker(collector, "/worklist")

    assert answered == pids


@pytest.mark.postgres
def test_kill_switch_reaches_every_worker(server):
    base_url, _plan, worker_pids, log = server
    collector = Browser(base_url)
    collector.log_in("collector406@test.example")
    lead = Browser(base_url)
    lead.log_in("lead@test.example")
    pids = _reach_every_worker(collector, "/worklist")
    worker_pids.update(int(pid) for pid in pids)

    token = lead.csrf_token("/rollout/flags/worklist/kill-switch")
    status, _pid, _page = lead.request(
        "/rollout/flags/worklist/kill-switch",
        {"action": "pull", "reason": "Totals are wrong.", "csrf_token": token},
    )
    assert status == 200
    pulled, stale_after_pull = _observe_change(collector, "/worklist", 404, pids)

    token = lead.csrf_token("/rollout/flags/worklist/kill-switch")
    lead.request(
        "/rollout/flags/worklist/kill-switch",
        {"action": "release", "reason": "Totals fixed.", "csrf_token": token},
    )
    released, stale_after_release = _observe_change(collector, "/worklist", 200, pids)

    assert set(pulled) == pids, log.read_text()
    assert max(pulled.values()) <= PROPAGATION_LIMIT
    assert stale_after_pull <= PROPAGATION_LIMIT
    assert set(released) == pids, log.read_text()
    assert max(released.values()) <= PROPAGATION_LIMIT
    assert stale_after_release <= PROPAGATION_LIMIT
