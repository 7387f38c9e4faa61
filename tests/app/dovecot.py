"""A throwaway Dovecot 2.3 IMAP server on loopback for the ingest tests (Debian package `dovecot-imapd`).

IMAP on 127.0.0.1, plaintext and (with `tls=True`) implicit TLS and STARTTLS with a self-signed certificate.
Each test takes a fresh user of its own (`new_mailbox`), so one server serves a whole test module; the mail lives
in a Maildir under a temp folder, so a test can reach behind the server (e.g. delete `dovecot-uidlist` to force
a new UIDVALIDITY). Run as a normal user, every Dovecot account is that user. As root (CI), Dovecot's master runs
as root the way it does in production and its internal, login and mail accounts are the unprivileged `dovecot`,
`dovenull` and `nobody`: Dovecot refuses to give mail access to UID 0.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PASSWORD = "northvale-test-only"
STARTUP_SECONDS = 15


@dataclass(frozen=True)
class Accounts:
    internal_user: str
    internal_group: str
    login_user: str
    mail_uid: int
    mail_gid: int


def _accounts() -> Accounts:
    if os.geteuid() != 0:
        user, group = pwd.getpwuid(os.geteuid()).pw_name, grp.getgrgid(os.getegid()).gr_name
        return Accounts(user, group, user, os.geteuid(), os.getegid())
    mail = pwd.getpwnam("nobody")
    return Accounts("dovecot", "dovecot", "dovenull", mail.pw_uid, mail.pw_gid)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Mailbox:
    """One user's mailbox on the server."""

    user: str
    password: str
    port: int
    tls_port: int
    certificate: Path
    maildir: Path

    def forget_uids(self, folder: str = "INBOX") -> None:
        """Delete the folder's UID list and indexes: Dovecot then gives it a new UIDVALIDITY."""
        path = self.maildir if folder == "INBOX" else self.maildir / f".{folder}"
        for name in os.listdir(path):
            if name == "dovecot-uidlist" or name.startswith(("dovecot.index", "dovecot.list.index")):
                (path / name).unlink()


class Dovecot:
    """One server process; `start()` waits until it greets, `stop()` ends it by its pid."""

    def __init__(self, tls: bool = False, users: int = 40) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="civicdesk-dovecot-"))
        self.workdir.chmod(0o755)  # the login and mail accounts must reach their sockets and the mail homes
        self.port = _free_port()
        self.tls_port = _free_port() if tls else 0  # implicit TLS (imaps); STARTTLS is then offered on `port`
        self.certificate = self.workdir / "cert.pem"  # self-signed for 127.0.0.1: a test's only trusted CA
        self.passwd = self.workdir / "passwd"
        self.accounts = _accounts()
        self.process: subprocess.Popen[bytes] | None = None
        self.users = [f"servicefirst{number}" for number in range(1, users + 1)]
        self._unused = iter(self.users)

    def start(self) -> None:
        # Every user exists before the server starts: passwd-file is re-read at most once a second, so a user
        # added while the server runs may be refused for a moment.
        self.passwd.write_text("".join(f"{user}:{{PLAIN}}{PASSWORD}\n" for user in self.users))
        for user in self.users:
            home = self.workdir / "home" / user
            home.mkdir(parents=True)
            os.chown(home, self.accounts.mail_uid, self.accounts.mail_gid)
        tls = self._make_certificate() if self.tls_port else "ssl = no"
        config = self.workdir / "dovecot.conf"
        config.write_text(
            f"""
protocols = imap
listen = 127.0.0.1
base_dir = {self.workdir}/run
state_dir = {self.workdir}/state
log_path = {self.workdir}/dovecot.log
default_internal_user = {self.accounts.internal_user}
default_internal_group = {self.accounts.internal_group}
default_login_user = {self.accounts.login_user}
first_valid_uid = 1
{tls}
disable_plaintext_auth = no
mail_location = maildir:~/Maildir
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.tls_port}
  }}
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.passwd}
}}
userdb {{
  driver = static
  args = uid={self.accounts.mail_uid} gid={self.accounts.mail_gid} home={self.workdir}/home/%u
}}
"""
        )
        self._launch()

    def restart(self) -> None:
        """Stop the server and start it again on the same port, keeping every mailbox. Open IMAP sessions are
        cut: Dovecot's session processes would otherwise outlive their master and keep serving."""
        if self.process is not None:
            subprocess.run(["pkill", "-KILL", "-P", str(self.process.pid)], check=False)
        self._end_process()
        self._launch()

    def _launch(self) -> None:
        with (self.workdir / "stderr.log").open("ab") as stderr:
            self.process = subprocess.Popen(
                ["dovecot", "-F", "-c", str(self.workdir / "dovecot.conf")], stdout=stderr, stderr=stderr
            )
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self._diagnostics()}")
            if self._greets():
                return
            time.sleep(0.05)
        diagnostics = self._diagnostics()
        self.stop()
        raise RuntimeError(f"dovecot did not answer on port {self.port}: {diagnostics}")

    def new_mailbox(self) -> Mailbox:
        """An unused user's mailbox, one per test."""
        user = next(self._unused, None)
        if user is None:
            raise RuntimeError(f"all {len(self.users)} test mailboxes are taken: give Dovecot(users=...) more")
        return Mailbox(
            user, PASSWORD, self.port, self.tls_port, self.certificate, self.workdir / "home" / user / "Maildir"
        )

    def _make_certificate(self) -> str:
        key = self.workdir / "key.pem"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
            + ["-keyout", str(key), "-out", str(self.certificate), "-days", "2", "-subj", "/CN=127.0.0.1"]
            + ["-addext", "subjectAltName=IP:127.0.0.1"],
            check=True,
            capture_output=True,
            timeout=30,
        )
        return f"ssl = yes\nssl_cert = <{self.certificate}\nssl_key = <{key}"

    def _greets(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as connection:
                return connection.recv(64).startswith(b"* OK")
        except OSError:
            return False

    def _diagnostics(self) -> str:
        text = ""
        for name in ("stderr.log", "dovecot.log"):
            path = self.workdir / name
            if path.exists():
                text += path.read_text(errors="replace")[-2000:]
        return text

    def stop(self) -> None:
        self._end_process()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _end_process(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
