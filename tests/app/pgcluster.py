"""A throwaway PostgreSQL cluster on 127.0.0.1, made with initdb and run with pg_ctl (as `postgres` when root)."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from helpers import free_port

from civicdesk.cli.cluster import postgres_bindir


class PostgresCluster:
    def __init__(self) -> None:
        self.bindir = postgres_bindir()
        self.workdir = Path(tempfile.mkdtemp(prefix="civicdesk-pg-"))
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.workdir, owner.pw_uid, owner.pw_gid)
            self.prefix = ["runuser", "-u", "postgres", "--"]
        self.data, self.port = self.workdir / "data", free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}"  # the server; add /dbname

    def _run(self, *args: str) -> None:
        subprocess.run([*self.prefix, *args], check=True, capture_output=True, timeout=120)

    def create(self) -> None:
        initdb = str(self.bindir / "initdb")
        self._run(initdb, "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
        self.start()

    def start(self) -> None:
        options = f"-h 127.0.0.1 -p {self.port} -k {self.workdir} -c fsync=off -c full_page_writes=off"
        options += " -c max_connections=200"
        log = str(self.workdir / "log")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)
