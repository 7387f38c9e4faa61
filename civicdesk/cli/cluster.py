"""`civicdesk cluster` (`make cluster`): two of every civicdesk process on this machine, the way several hosts run it.

PostgreSQL (the core database and Rasa's trackers), Redis (Rasa's lock store, the web workers' chat fan-out and
rate limits) and HAProxy (in front of the web workers, the Rasa servers and the action servers, with
deploy/haproxy.cfg) are started from the Debian binaries, with their data under var/cluster/, on loopback. Then
two core web workers, two Rasa servers, two action servers, two ingesters and the escalator run under honcho, as
`make run` runs one of each. docs/deploy.md places the same processes, with the same settings, on several hosts.

Ports are counted from CIVICDESK_PORT (8000): HAProxy serves residents and staff there, and the processes behind
it take the ports just above (`Layout`).
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import typer

from civicdesk.cli.common import ensure_port_free
from civicdesk.errors import UserError
from civicdesk.settings import PROJECT_ROOT, Settings, get_settings
from civicdesk.triage import training

APP = PROJECT_ROOT / ".venv" / "bin"
PAIR = (1, 2)


@dataclass(frozen=True)
class Layout:
    """Where each process of the one-machine cluster listens: offsets from the public port."""

    public: int  # HAProxy's front door for residents and staff
    folder: Path  # var/cluster: databases, configuration, logs

    def web(self, n: int) -> int:
        return self.public + n

    @property
    def rasa_balancer(self) -> int:
        return self.public + 10

    def rasa(self, n: int) -> int:
        return self.public + 10 + n

    @property
    def actions_balancer(self) -> int:
        return self.public + 20

    def actions(self, n: int) -> int:
        return self.public + 20 + n

    @property
    def postgres(self) -> int:
        return self.public + 30

    @property
    def redis(self) -> int:
        return self.public + 31

    def ingester_metrics(self, n: int) -> int:
        return self.public + 40 + n

    def ports(self) -> list[tuple[str, int]]:
        return [
            ("HAProxy (public)", self.public),
            ("HAProxy (Rasa)", self.rasa_balancer),
            ("HAProxy (actions)", self.actions_balancer),
            ("PostgreSQL", self.postgres),
            ("Redis", self.redis),
            *((f"web worker {n}", self.web(n)) for n in PAIR),
            *((f"Rasa server {n}", self.rasa(n)) for n in PAIR),
            *((f"action server {n}", self.actions(n)) for n in PAIR),
            *((f"ingester {n} metrics", self.ingester_metrics(n)) for n in PAIR),
        ]

    def database_url(self, name: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.postgres}/{name}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis}/0"


def postgres_bindir() -> Path:
    """Debian keeps the server's programs (initdb, pg_ctl) out of PATH, under /usr/lib/postgresql/VERSION/bin."""
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    raise UserError("PostgreSQL server programs not found: install the Debian package `postgresql`")


class Postgres:
    """A PostgreSQL cluster in `folder`, run as the `postgres` user when we are root (the server refuses root)."""

    def __init__(self, folder: Path, port: int) -> None:
        self.bindir, self.folder, self.port = postgres_bindir(), folder, port
        self.data = folder / "data"
        self.as_owner: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            folder.mkdir(parents=True, exist_ok=True)
            os.chown(folder, owner.pw_uid, owner.pw_gid)
            self.as_owner = ["runuser", "-u", "postgres", "--"]

    def _run(self, program: str, *args: str) -> str:
        command = [*self.as_owner, str(self.bindir / program), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise UserError(f"{program} failed: {(done.stderr or done.stdout).strip()[-500:]}")
        return done.stdout

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if not (self.data / "PG_VERSION").exists():
            self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8")
        options = f"-h 127.0.0.1 -p {self.port} -k {self.folder} -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.folder / "log"), "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def ensure_database(self, name: str) -> None:
        psql = ["-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "postgres", "-tAc"]
        if self._run("psql", *psql, f"SELECT 1 FROM pg_database WHERE datname = '{name}'").strip() != "1":
            self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)


def shared_environment(settings: Settings, layout: Layout) -> dict[str, str]:
    """What every process of the cluster is told: the shared stores, and the balancers in front of each kind."""
    return {
        "CIVICDESK_DATABASE_URL": layout.database_url("civicdesk"),
        "CIVICDESK_RASA_TRACKER_URL": layout.database_url("rasa"),
        "CIVICDESK_REDIS_URL": layout.redis_url,
        "CIVICDESK_RASA_URL": f"http://127.0.0.1:{layout.rasa_balancer}",
        "CIVICDESK_ACTION_SERVER_URL": f"http://127.0.0.1:{layout.actions_balancer}",
        "CIVICDESK_CORE_URL": f"http://127.0.0.1:{layout.public}",
        "CIVICDESK_PUBLIC_BASE_URL": f"http://127.0.0.1:{layout.public}",
        "CIVICDESK_TRUSTED_PROXIES": "127.0.0.1",  # HAProxy's X-Forwarded-For names the resident
        "CIVICDESK_VAR_DIR": str(settings.var_dir),
        "PROMETHEUS_MULTIPROC_DIR": str(layout.folder / "metrics"),
        # deploy/haproxy.cfg's addresses
        "CIVICDESK_LB_WEB": f"127.0.0.1:{layout.public}",
        "CIVICDESK_LB_RASA": f"127.0.0.1:{layout.rasa_balancer}",
        "CIVICDESK_LB_ACTIONS": f"127.0.0.1:{layout.actions_balancer}",
        **{f"CIVICDESK_WEB_{n}": f"127.0.0.1:{layout.web(n)}" for n in PAIR},
        **{f"CIVICDESK_RASA_{n}": f"127.0.0.1:{layout.rasa(n)}" for n in PAIR},
        **{f"CIVICDESK_ACTIONS_{n}": f"127.0.0.1:{layout.actions(n)}" for n in PAIR},
    }


def processes(layout: Layout) -> dict[str, list[str]]:
    """Each process of the cluster: its command, with what sets it apart from its twin."""
    civicdesk = str(APP / "civicdesk")
    # Redis holds only what may be lost (locks, rate-limit counts, notices): nothing is written to disk
    redis = [
        shutil.which("redis-server") or "redis-server",
        *("--bind", "127.0.0.1", "--port", str(layout.redis), "--save", "", "--appendonly", "no"),
    ]
    commands: dict[str, list[str]] = {
        "redis": redis,
        "haproxy": [shutil.which("haproxy") or "haproxy", "-db", "-f", str(PROJECT_ROOT / "deploy" / "haproxy.cfg")],
    }
    for n in PAIR:
        commands[f"web{n}"] = ["env", f"CIVICDESK_PORT={layout.web(n)}", civicdesk, "serve"]
        commands[f"rasa{n}"] = ["env", f"CIVICDESK_RASA_URL=http://127.0.0.1:{layout.rasa(n)}", civicdesk, "rasa"]
        own_actions = f"CIVICDESK_ACTION_SERVER_URL=http://127.0.0.1:{layout.actions(n)}"
        commands[f"actions{n}"] = ["env", own_actions, civicdesk, "actions"]
        metrics = f"CIVICDESK_INGEST_METRICS_PORT={layout.ingester_metrics(n)}"
        commands[f"ingester{n}"] = ["env", metrics, civicdesk, "ingest"]
    commands["sla"] = [civicdesk, "sla", "escalate", "--every", "60"]
    return commands


def prepare(settings: Settings, layout: Layout, postgres: Postgres) -> dict[str, str]:
    """Databases created, migrated and seeded, Rasa's tracker table made (two Rasa servers starting at once
    would race to create it); returns the shared environment."""
    for name in ("civicdesk", "rasa"):
        postgres.ensure_database(name)
    environment = {**os.environ, **shared_environment(settings, layout)}
    civicdesk = str(APP / "civicdesk")
    for step in ([civicdesk, "db", "upgrade"], [civicdesk, "seed", "--if-empty"]):
        subprocess.run(step, env=environment, check=True, cwd=PROJECT_ROOT)
    training.create_rasa_tracker_table(settings.model_copy(update={"rasa_tracker_url": layout.database_url("rasa")}))
    metrics = layout.folder / "metrics"
    shutil.rmtree(metrics, ignore_errors=True)  # prometheus-client's multiprocess files belong to one run
    metrics.mkdir(parents=True)
    return environment


def cluster() -> None:
    """Run two of every process on this machine behind HAProxy, with PostgreSQL and Redis (Ctrl-C stops all)."""
    settings = get_settings()
    layout = Layout(settings.port, settings.var_dir / "cluster")
    for what, port in layout.ports():
        ensure_port_free("127.0.0.1", port, what, "CIVICDESK_PORT (the cluster takes the ports above it)")
    postgres = Postgres(layout.folder / "postgres", layout.postgres)
    postgres.start()
    try:
        environment = prepare(settings, layout, postgres)
        procfile = layout.folder / "Procfile"
        procfile.write_text("".join(f"{name}: {shlex.join(command)}\n" for name, command in processes(layout).items()))
        typer.echo(f"civicdesk cluster   http://127.0.0.1:{layout.public}/  (health /health, console /console)")
        for what, port in layout.ports():
            typer.echo(f"  {what:<20} 127.0.0.1:{port}")
        typer.echo(f"  data under {layout.folder}; Ctrl-C stops everything")
        subprocess.run(
            [str(APP / "honcho"), "-f", str(procfile), "-d", str(PROJECT_ROOT), "start"], env=environment, check=False
        )
    except KeyboardInterrupt:
        pass
    finally:
        postgres.stop()
