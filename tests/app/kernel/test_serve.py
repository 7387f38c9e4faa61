"""`civicdesk serve` as an operator runs it, in a child process: what its log keeps of a request, which client
address it believes, and whether it publishes the API documentation."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from helpers import free_port, make_settings
from sqlalchemy import select
from websockets.sync.client import connect

from civicdesk import migrate
from civicdesk.app import create_app
from civicdesk.db import make_engine, make_session_factory, transaction
from civicdesk.models import LoginAttempt
from civicdesk.settings import PROJECT_ROOT
from civicdesk.staff import auth

STAFF, PASSWORD = "priya.raman@northvale.ca", "correct horse battery staple"
# What a resident typed into the search box, with one of each kind of personal information.
QUESTION = "my name is Johnny Appleseed email johnny@example.org call 905-555-0143 at 42 Elm Street L3X 2B7"
PERSONAL = ["Johnny Appleseed", "johnny@example.org", "905-555-0143", "42 Elm Street", "L3X 2B7"]


class ServedCore:
    """`civicdesk serve` on a free port with a migrated SQLite database; everything it writes goes to `log`."""

    def __init__(self, folder: Path, **env: str) -> None:
        self.settings = make_settings(folder, port=free_port())
        self.url = f"http://127.0.0.1:{self.settings.port}"
        self.log = folder / "serve.log"
        migrate.upgrade(self.settings.sqlalchemy_url)
        engine = make_engine(self.settings.sqlalchemy_url)
        self.session_factory = make_session_factory(engine)
        with transaction(self.session_factory) as session:
            auth.create_user(session, STAFF, "Priya Raman", PASSWORD, "agent")
        self.env = {
            **{name: value for name, value in os.environ.items() if not name.startswith("CIVICDESK_")},
            "CIVICDESK_ENV": "test",
            "CIVICDESK_VAR_DIR": str(self.settings.var_dir),
            "CIVICDESK_PORT": str(self.settings.port),
            "CIVICDESK_SECRET_KEY": self.settings.secret_key.get_secret_value(),
            "CIVICDESK_ACTIONS_TOKEN": self.settings.actions_token.get_secret_value(),
            "CIVICDESK_RASA_URL": self.settings.rasa_url,
            "CIVICDESK_COOKIE_SECURE": "false",  # the client speaks plain http to loopback
            "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
            **env,
        }
        self.folder = folder

    def __enter__(self) -> ServedCore:
        with self.log.open("wb") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(
                [sys.executable, "-c", "from civicdesk.cli import main; main()", "serve"],
                env=self.env,
                cwd=self.folder,  # no project .env
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 180
        while "Application startup complete" not in self.text():
            assert self.process.poll() is None, f"civicdesk serve stopped:\n{self.text()}"
            assert time.monotonic() < deadline, f"civicdesk serve did not start:\n{self.text()}"
            time.sleep(0.2)
        return self

    def __exit__(self, *_: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)
        self.session_factory.kw["bind"].dispose()

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def logged(self, fragment: str) -> str:
        """The first log line holding `fragment`, once it is written."""
        deadline = time.monotonic() + 30
        while True:
            lines = [line for line in self.text().splitlines() if fragment in line]
            if lines:
                return lines[0]
            assert time.monotonic() < deadline, f"no log line with {fragment!r}:\n{self.text()}"
            time.sleep(0.1)

    def sign_in(self, password: str, headers: dict[str, str]) -> httpx.Response:
        with httpx.Client(base_url=self.url, headers=headers, timeout=30) as client:
            page = client.get("/console/login")
            found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert found, page.text
            data = {"email": STAFF, "password": password, "csrf_token": found.group(1)}
            return client.post("/console/login", data=data)

    def attempt_addresses(self) -> list[str]:
        with self.session_factory() as session:
            return list(session.scalars(select(LoginAttempt.address).order_by(LoginAttempt.id)))


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedCore]:
    """The defaults: no trusted proxy; development-like documentation (CIVICDESK_ENV=test)."""
    with ServedCore(tmp_path_factory.mktemp("core")) as served:
        yield served


@pytest.fixture(scope="module")
def production_core_behind_a_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedCore]:
    folder = tmp_path_factory.mktemp("proxied")
    with ServedCore(folder, CIVICDESK_ENV="production", CIVICDESK_TRUSTED_PROXIES="127.0.0.1") as served:
        yield served


def test_the_access_log_keeps_no_personal_information_of_an_encoded_query(core: ServedCore) -> None:
    token = core.settings.actions_token.get_secret_value()
    answer = httpx.get(
        f"{core.url}/api/v1/kb/search", params={"q": QUESTION}, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 200 and "johnny%40example.org" in str(answer.request.url)  # sent encoded
    line = core.logged("/api/v1/kb/search")
    assert "q=my name is <NAME> email <EMAIL> call <PHONE> at <ADDRESS> <POSTAL_CODE> HTTP/1.1" in line, line
    log = core.text()
    for value in PERSONAL:
        for form in (value, value.replace(" ", "+"), value.replace("@", "%40")):
            assert form not in log


def test_credentials_in_query_strings_are_never_logged(core: ServedCore) -> None:
    conversation, api_key = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    with connect(f"ws://127.0.0.1:{core.settings.port}/chat/ws?conversation={conversation}") as socket:
        socket.recv(timeout=30)  # the conversation: the socket was accepted
    httpx.get(f"{core.url}/open311/v2/requests.json", params={"api_key": api_key, "status": "open"})
    assert '"WebSocket /chat/ws?conversation=[redacted]" [accepted]' in core.logged("WebSocket /chat/ws")
    assert "/open311/v2/requests.json?api_key=[redacted]&status=open HTTP/1.1" in core.logged("/open311/v2/requests")
    log = core.text()
    assert conversation not in log and api_key not in log


def test_a_forged_forwarded_for_is_ignored_without_a_trusted_proxy(core: ServedCore) -> None:
    refused = core.sign_in("not the password at all", {"X-Forwarded-For": "10.9.9.9"})
    assert refused.status_code == 401
    assert core.attempt_addresses()[-1] == "127.0.0.1"  # what throttling and the audit log count


def test_a_trusted_proxy_names_the_client(production_core_behind_a_proxy: ServedCore) -> None:
    core = production_core_behind_a_proxy
    assert core.sign_in(PASSWORD, {"X-Forwarded-For": "10.9.9.9"}).status_code == 303  # signed in
    assert core.attempt_addresses() == ["10.9.9.9"]


def test_api_docs_are_published_outside_production_only(
    core: ServedCore, production_core_behind_a_proxy: ServedCore
) -> None:
    assert "API docs: /docs" in core.logged("civicdesk core on")
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert httpx.get(f"{core.url}{path}").status_code == 200
        assert httpx.get(f"{production_core_behind_a_proxy.url}{path}").status_code == 404
    assert "/docs" not in production_core_behind_a_proxy.logged("civicdesk core on")


def test_the_api_docs_setting_overrides_the_environment(tmp_path: Path) -> None:
    for env, api_docs, served in [("test", None, True), ("production", None, False), ("production", True, True)]:
        app = create_app(make_settings(tmp_path, env=env, api_docs=api_docs))
        assert (app.docs_url, app.redoc_url, app.openapi_url) == (
            ("/docs", "/redoc", "/openapi.json") if served else (None, None, None)
        )


def test_health_checks_leave_no_log_lines(core: ServedCore) -> None:
    # Monitors call /health every few seconds; its access line and the httpx lines of its calls to Rasa and the
    # action server would bury what matters. Other requests are still logged.
    for _ in range(2):
        httpx.get(f"{core.url}/health", timeout=30)
    httpx.get(f"{core.url}/health-marker-not-found")
    core.logged("/health-marker-not-found")  # written after both health checks' lines would have been
    lines = [line for line in core.text().splitlines() if "civicdesk core on" not in line]
    assert not [line for line in lines if "/health " in line or "HTTP Request:" in line]
