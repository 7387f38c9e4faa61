"""The long-running processes of the stack (`serve`, `ingest`, `rasa`, `actions`), `check` before they start, and
`train`, which builds the models the assistant and the ingester load."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from civicdesk.cli.common import ensure_port_free, session_factory, setup_logging
from civicdesk.errors import UserError
from civicdesk.settings import PROJECT_ROOT, Settings, get_settings
from civicdesk.triage import training

if TYPE_CHECKING:
    from email_ingest.runner import IngestSummary


def check() -> None:
    """Validate the settings, make sure every port is free, and print where each process will listen."""
    settings = get_settings()
    endpoints = [
        ("core web app", (settings.host, settings.port), "CIVICDESK_HOST / CIVICDESK_PORT"),
        ("Rasa server", training.host_port(settings.rasa_url), "CIVICDESK_RASA_URL"),
        ("action server", training.host_port(settings.action_server_url), "CIVICDESK_ACTION_SERVER_URL"),
    ]
    for what, (host, port), setting in endpoints:
        ensure_port_free(host, port, what, setting)
    core = f"http://{settings.host}:{settings.port}"
    docs = f"   API docs {core}/docs" if settings.serves_api_docs else ""
    typer.echo(f"core web app   {core}/      health {core}/health{docs}")
    typer.echo(f"Rasa server    {settings.rasa_url} (loopback, called by the core only)")
    typer.echo(f"action server  {settings.action_server_url}")
    if settings.imap_host:
        typer.echo(f"mailbox        imap {settings.imap_username}@{settings.imap_host} folder {settings.imap_folder}")
    else:
        typer.echo(f"mail drop      {settings.maildir_path} (Maildir: put messages in new/)")
    typer.echo(f"database       {settings.sqlalchemy_url.split('@')[-1]}")


def serve() -> None:
    """Run the core web app (API, health, chat gateway, console)."""
    import uvicorn

    settings = get_settings()
    setup_logging(settings)
    ensure_port_free(settings.host, settings.port, "core web app", "CIVICDESK_PORT")
    docs = ", API docs: /docs" if settings.serves_api_docs else ""
    typer.echo(f"civicdesk core on http://{settings.host}:{settings.port}  (health: /health{docs})")
    uvicorn.run(
        "civicdesk.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        log_config=None,  # uvicorn's records go through our handlers, which redact personal information
        # X-Forwarded-For rewrites the client's address (throttling, audit) only when a named proxy sends it;
        # uvicorn's own default would believe anyone on loopback.
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=settings.trusted_proxies,
    )


def ingest(
    once: Annotated[bool, typer.Option("--once", help="Drain the backlog and stop.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="With --once: print the summary as JSON.")] = False,
) -> None:
    """Read the mailboxes (IMAP when CIVICDESK_IMAP_HOST is set, else the Maildir drop folder) into the database."""
    from email_ingest.runner import IngestSummary, Lease, MailboxBusy, ingest_once, run_forever
    from email_ingest.service import IngestService, mail_sources

    settings = get_settings()
    setup_logging(settings)
    factory = session_factory()
    sources = mail_sources(settings, factory)
    services = [IngestService(settings, factory, source.name) for source in sources]
    if once:
        total = IngestSummary()
        for source, service in zip(sources, services, strict=True):
            try:
                with _ingest_progress(quiet=as_json) as progress:
                    summary = ingest_once(
                        source,
                        factory,
                        settings.max_message_bytes,
                        config=service.config,
                        triage=service.triage(),
                        lease=Lease(factory, source.name, ttl=settings.ingest_lease_seconds),
                        progress=progress,
                    )
            except MailboxBusy as busy:
                raise UserError(f"{busy}; try again when it has finished") from None
            service.deliver()
            total.add_up(summary)
            if not as_json:
                typer.echo(f"ingested {source.name}: {summary.as_dict()}")
        if as_json:
            typer.echo(json.dumps(total.as_dict()))
        return
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    if settings.ingest_metrics_port:
        from prometheus_client import start_http_server

        from civicdesk.metrics import process_registry

        start_http_server(settings.ingest_metrics_port, addr="127.0.0.1", registry=process_registry())
        typer.echo(f"ingester metrics at http://127.0.0.1:{settings.ingest_metrics_port}/metrics")
    readers = []
    for source, service in zip(sources, services, strict=True):  # one reader per mailbox, each with its lease
        typer.echo(f"ingester reading {source.name}; polling every {settings.ingest_poll_seconds:g} s without IDLE")
        options = {
            "config": service.config,
            "triage": service.triage,
            "deliver": service.deliver,
            "alert_after": settings.ingest_alert_after_failures,
            "alert": service.alert,
            "lease_seconds": settings.ingest_lease_seconds,
        }
        arguments = (source, factory, settings.max_message_bytes, settings.ingest_poll_seconds, stop)
        readers.append(threading.Thread(target=run_forever, args=arguments, kwargs=options, name=source.name[:40]))
    for reader in readers:
        reader.start()
    while any(reader.is_alive() for reader in readers):
        for reader in readers:
            reader.join(timeout=1)  # short joins, so the main thread still runs the signal handlers


@contextmanager
def _ingest_progress(quiet: bool) -> Iterator[Callable[[IngestSummary], None] | None]:
    """A progress line on stderr while a backlog drains (not with --json or when stderr is not a terminal)."""
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    if quiet or not console.is_terminal:
        yield None
        return
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task("reading the mailbox")

        def show(summary: IngestSummary) -> None:
            bar.update(
                task,
                description=f"{summary.fetched} fetched, {summary.stored} stored, {summary.routed} routed, "
                f"{summary.needs_human} for agents, {summary.quarantined} quarantined",
            )

        yield show


def train(
    force: Annotated[bool, typer.Option(help="Retrain even when the models are up to date.")] = False,
) -> None:
    """Train the assistant's Rasa model and the triage models when missing or stale."""
    settings = get_settings()
    for outcome in training.train_all(settings, force=force):
        typer.echo(outcome)


# Runs `rasa` in the engine env without its dependencies' DeprecationWarnings (pkg_resources, distutils,
# pyparsing, SQLAlchemy 1.4), which are nothing to act on here. Filters cannot do it: Sanic puts
# `filterwarnings("once", DeprecationWarning)` first when imported and Rasa `filterwarnings("once", UserWarning)`,
# which pyparsing's deprecations also are; so they are dropped where warnings are shown.
QUIET_RASA = """
import sys, warnings
show = warnings.showwarning
def show_unless_deprecated(message, category, *args, **kwargs):
    if not issubclass(category, DeprecationWarning):
        show(message, category, *args, **kwargs)
warnings.showwarning = show_unless_deprecated
from rasa.__main__ import main
sys.argv[0] = "rasa"
sys.exit(main())
"""


def _exec_engine(settings: Settings, argv: list[str], env: dict[str, str]) -> None:
    """Run `rasa ARGS` from the engine env (argv[0] is "rasa")."""
    executable = settings.engine_venv / "bin" / argv[0]
    if not executable.exists():
        raise UserError(f"{executable} is missing: run `make setup` to create the Rasa environment")
    python = settings.engine_venv / "bin" / "python"
    os.chdir(PROJECT_ROOT)
    sys.stdout.flush()
    os.execve(python, [str(python), "-c", QUIET_RASA, *argv[1:]], {**os.environ, **env})


def rasa() -> None:
    """Run the Rasa server on loopback (REST channel only) with the trained model."""
    settings = get_settings()
    host, port = training.host_port(settings.rasa_url)
    ensure_port_free(host, port, "Rasa server", "CIVICDESK_RASA_URL")
    model = training.rasa_model_path(settings)
    if not model.exists():
        raise UserError(f"no assistant model at {model}: run `civicdesk train`")
    if not settings.rasa_tracker_url:
        training.prepare_tracker_store(settings.tracker_db_path)
    endpoints = training.write_rasa_endpoints(settings, settings.var_dir / "rasa" / str(port))
    _exec_engine(
        settings,
        [
            "rasa",
            "run",
            "--interface",
            host,
            "--port",
            str(port),
            "--model",
            str(model),
            "--credentials",
            "bot/credentials.yml",
            "--endpoints",
            str(endpoints),
        ],
        training.engine_env(settings),
    )


def actions() -> None:
    """Run the Rasa action server (the bot's custom actions) on loopback."""
    settings = get_settings()
    host, port = training.host_port(settings.action_server_url)
    ensure_port_free(host, port, "action server", "CIVICDESK_ACTION_SERVER_URL")
    # rasa-sdk binds 0.0.0.0 unless SANIC_HOST says otherwise; it must stay on loopback.
    _exec_engine(
        settings,
        ["rasa", "run", "actions", "--actions", "actions", "--port", str(port)],
        {**training.engine_env(settings), "SANIC_HOST": host},
    )
