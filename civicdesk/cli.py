"""The `civicdesk` command: database, seed data, training, and every long-running process of the stack."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import ssl
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from civicdesk.db import make_engine, make_session_factory, transaction
from civicdesk.errors import UserError
from civicdesk.settings import PROJECT_ROOT, Settings, get_settings
from civicdesk.staff.api_clients import clients_app
from civicdesk.staff.auth import users_app
from civicdesk.triage import training

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from email_ingest.runner import IngestSummary, MailSource

app = typer.Typer(help=__doc__, no_args_is_help=True, pretty_exceptions_enable=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
kb_app = typer.Typer(help="Knowledgebase articles as Markdown files.", no_args_is_help=True)
sla_app = typer.Typer(help="Service levels: escalate work waiting past its target.", no_args_is_help=True)
residents_app = typer.Typer(help="A resident's records, on their request: export or erase.", no_args_is_help=True)
retention_app = typer.Typer(help="The retention schedule for personal information.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(kb_app, name="kb")
app.add_typer(retention_app, name="retention")
app.add_typer(residents_app, name="residents")
app.add_typer(sla_app, name="sla")
app.add_typer(clients_app, name="clients", help="API keys of Open311 apps and internal callers.")
app.add_typer(users_app, name="users", help="Console accounts: create, list, disable (agents, supervisors, ...).")


def _mount_classifiers() -> None:
    try:
        from classifiers.cli import app as classifiers_app
    except ImportError:  # the package is optional while it is being built
        return
    app.add_typer(classifiers_app, name="classifiers", help="Triage classifiers: train, evaluate, predict.")


_mount_classifiers()


def main() -> None:
    """Console entry point: user mistakes become one line on stderr and exit status 2, never a traceback."""
    try:
        app()
    except UserError as error:
        typer.echo(f"civicdesk: error: {error}", err=True)
        raise SystemExit(2) from None
    except ValueError as error:
        # SeedError and DataError are ValueErrors whose message names the file and the problem.
        if type(error).__name__ in {"SeedError", "DataError"}:
            typer.echo(f"civicdesk: error: {error}", err=True)
            raise SystemExit(2) from None
        raise


def _setup_logging(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # it announces every plugin it loads
    from civicdesk.privacy import redact_logs  # here: it loads spaCy, which most commands never need

    redact_logs()  # residents' names, emails, phones and addresses never reach a log file


def ensure_port_free(host: str, port: int, what: str, setting: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            raise UserError(
                f"port {port} on {host} is already in use, so the {what} cannot start; "
                f"stop the other process or set {setting}"
            ) from None


@app.command()
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
    typer.echo(f"core web app   {core}/      health {core}/health   API docs {core}/docs")
    typer.echo(f"Rasa server    {settings.rasa_url} (loopback, called by the core only)")
    typer.echo(f"action server  {settings.action_server_url}")
    if settings.imap_host:
        typer.echo(f"mailbox        imap {settings.imap_username}@{settings.imap_host} folder {settings.imap_folder}")
    else:
        typer.echo(f"mail drop      {settings.maildir_path} (Maildir: put messages in new/)")
    typer.echo(f"database       {settings.sqlalchemy_url.split('@')[-1]}")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create the database or migrate it to the latest schema."""
    from civicdesk import migrate

    settings = get_settings()
    migrate.upgrade(settings.sqlalchemy_url)
    typer.echo(f"database at schema {migrate.head_revision()}")


@db_app.command("revision")
def db_revision(
    message: Annotated[str, typer.Option("--message", "-m", help="What the change does.")],
) -> None:
    """Write a new migration from the difference between the models and the schema at head (review it!)."""
    import tempfile

    from alembic import command

    from civicdesk import migrate

    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{scratch}/head.db"
        migrate.upgrade(url)
        # Numbered revisions (0001, 0002, ...) read in order in the versions folder.
        number = len(list((migrate.MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))) + 1
        script = command.revision(
            migrate.alembic_config(url), message=message, autogenerate=True, rev_id=f"{number:04d}"
        )
    typer.echo(f"wrote {getattr(script, 'path', script)}")


@app.command()
def seed(
    if_empty: Annotated[bool, typer.Option(help="Only load when the database has no departments yet.")] = False,
    directory: Annotated[Path | None, typer.Option("--dir", help="Seed folder (default: the shipped one).")] = None,
) -> None:
    """Load departments, services, articles, clinics, events, forms, referrals and the on-call roster."""
    from civicdesk.catalogue import seed as seed_loader

    settings = get_settings()
    factory = make_session_factory(make_engine(settings.sqlalchemy_url))
    with transaction(factory) as session:
        if if_empty and not seed_loader.is_empty(session):
            typer.echo("seed data already loaded; nothing to do")
            return
        counts = seed_loader.load(session, directory or seed_loader.SEED_DIR)
    typer.echo("loaded " + ", ".join(f"{n} {what}" for what, n in counts.items()))


@app.command()
def serve() -> None:
    """Run the core web app (API, health, chat gateway, console)."""
    import uvicorn

    settings = get_settings()
    _setup_logging(settings)
    ensure_port_free(settings.host, settings.port, "core web app", "CIVICDESK_PORT")
    typer.echo(f"civicdesk core on http://{settings.host}:{settings.port}  (health: /health, API docs: /docs)")
    uvicorn.run(
        "civicdesk.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        log_config=None,  # uvicorn's records go through our handlers, which redact personal information
    )


@app.command()
def ingest(
    once: Annotated[bool, typer.Option("--once", help="Drain the backlog and stop.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="With --once: print the summary as JSON.")] = False,
) -> None:
    """Read the mail source (IMAP when CIVICDESK_IMAP_HOST is set, else the Maildir drop folder) into the database."""
    from email_ingest.runner import Lease, MailboxBusy, ingest_once, run_forever
    from email_ingest.service import IngestService

    settings = get_settings()
    _setup_logging(settings)
    factory = make_session_factory(make_engine(settings.sqlalchemy_url))
    source = _mail_source(settings, factory)
    service = IngestService(settings, factory, source.name)
    if once:
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
        typer.echo(json.dumps(summary.as_dict()) if as_json else f"ingested: {summary.as_dict()}")
        return
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    typer.echo(f"ingester reading {source.name}; polling every {settings.ingest_poll_seconds:g} s when it cannot wait")
    run_forever(
        source,
        factory,
        settings.max_message_bytes,
        settings.ingest_poll_seconds,
        stop,
        config=service.config,
        triage=service.triage,
        deliver=service.deliver,
        alert_after=settings.ingest_alert_after_failures,
        alert=service.alert,
        lease_seconds=settings.ingest_lease_seconds,
    )


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


def _mail_source(settings: Settings, factory: sessionmaker[Session]) -> MailSource:
    from email_ingest.maildir import PROCESSED_FOLDER, QUARANTINE_FOLDER, MaildirSource

    if not settings.imap_host:
        return MaildirSource(settings.maildir_path)
    from email_ingest.imap import ImapAccount, ImapSource

    context = ssl.create_default_context(cafile=str(settings.imap_ca_file)) if settings.imap_ca_file else None
    try:
        account = ImapAccount(
            host=settings.imap_host,
            username=settings.imap_username,
            password=settings.imap_password.get_secret_value(),
            port=settings.imap_port,
            folder=settings.imap_folder,
            security=settings.imap_security,
            timeout=settings.imap_timeout_seconds,
            ssl_context=context,
        )
    except ValueError as error:
        raise UserError(str(error)) from None
    folders = {PROCESSED_FOLDER: settings.imap_processed_folder, QUARANTINE_FOLDER: settings.imap_quarantine_folder}
    return ImapSource(account, factory, settings.max_message_bytes, folders=folders)


@app.command()
def train(
    force: Annotated[bool, typer.Option(help="Retrain even when the models are up to date.")] = False,
) -> None:
    """Train the assistant's Rasa model and the triage models when missing or stale."""
    settings = get_settings()
    for outcome in training.train_all(settings, force=force):
        typer.echo(outcome)


def _exec_engine(settings: Settings, argv: list[str], env: dict[str, str]) -> None:
    executable = settings.engine_venv / "bin" / argv[0]
    if not executable.exists():
        raise UserError(f"{executable} is missing: run `make setup` to create the Rasa environment")
    os.chdir(PROJECT_ROOT)
    sys.stdout.flush()
    os.execve(executable, [str(executable), *argv[1:]], {**os.environ, **env})


@app.command()
def rasa() -> None:
    """Run the Rasa server on loopback (REST channel only) with the trained model."""
    settings = get_settings()
    host, port = training.host_port(settings.rasa_url)
    ensure_port_free(host, port, "Rasa server", "CIVICDESK_RASA_URL")
    model = training.rasa_model_path(settings)
    if not model.exists():
        raise UserError(f"no assistant model at {model}: run `civicdesk train`")
    training.prepare_tracker_store(settings.tracker_db_path)
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
            "bot/endpoints.yml",
        ],
        training.engine_env(settings),
    )


@app.command()
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


@kb_app.command("export")
def kb_export(
    directory: Annotated[Path, typer.Argument(help="Folder to write one Markdown file per article.")],
) -> None:
    """Write every article as Markdown with front matter (the seed format), for review or bulk edits."""
    from civicdesk.knowledge import articles as kb

    settings = get_settings()
    factory = make_session_factory(make_engine(settings.sqlalchemy_url))
    with factory() as session:
        written = kb.export_articles(session, directory)
    typer.echo(f"wrote {written} articles to {directory}")


@kb_app.command("import")
def kb_import(
    directory: Annotated[Path, typer.Argument(help="Folder of Markdown articles with front matter.")],
    author: Annotated[str, typer.Option(help="Recorded in each changed article's history.")] = "kb import",
) -> None:
    """Create or update articles from Markdown files; each changed article gets a new version."""
    from civicdesk.knowledge import articles as kb

    settings = get_settings()
    factory = make_session_factory(make_engine(settings.sqlalchemy_url))
    with transaction(factory) as session:
        result = kb.import_articles(session, directory, author)
    typer.echo(f"created {result.created}, updated {result.updated}, unchanged {result.unchanged}")


@retention_app.command("schedule")
def retention_schedule() -> None:
    """List each record type with its retention period (the settings' overrides applied) and what happens then."""
    from civicdesk.residents import retention

    days = retention.periods(get_settings().retention_days)
    for record in retention.SCHEDULE:
        typer.echo(f"{record.name:<20} {days[record.name]:>5} days  {record.action:<9} {record.what}")
    typer.echo(f"(no period may be shorter than {retention.MINIMUM_DAYS} days)")


@retention_app.command("run")
def retention_run(
    apply: Annotated[bool, typer.Option("--apply", help="Delete and anonymize; without it, only count.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
) -> None:
    """Apply the retention schedule: past its period a record is deleted or anonymized. A dry run by default."""
    from civicdesk.db import utcnow
    from civicdesk.residents import retention

    settings = get_settings()
    factory = make_session_factory(make_engine(settings.sqlalchemy_url))
    mail_store = _mail_source(settings, factory).purge_before
    with transaction(factory) as session:
        outcomes = retention.run(
            session, utcnow(), settings.retention_days, settings.tracker_db_path, apply=apply, mail_store=mail_store
        )
    if as_json:
        typer.echo(json.dumps({"applied": apply, "records": [o.as_dict() for o in outcomes]}, indent=2))
        raise SystemExit(1 if any(outcome.error for outcome in outcomes) else 0)
    verb = {"delete": "deleted", "anonymize": "anonymized"}
    for outcome in outcomes:
        done = verb[outcome.action] if apply else f"would be {verb[outcome.action]}"
        if outcome.error:
            typer.echo(f"{outcome.record_type:<20} not reached: {outcome.error}", err=True)
            continue
        typer.echo(f"{outcome.record_type:<20} {outcome.count:>6} {done} (older than {outcome.cutoff:%Y-%m-%d})")
    if not apply:
        typer.echo("dry run: nothing changed; run with --apply to apply the schedule")
    if any(outcome.error for outcome in outcomes):
        raise SystemExit(1)


EmailOption = Annotated[str | None, typer.Option("--email", help="The resident's email address.")]
PhoneOption = Annotated[str | None, typer.Option("--phone", help="The resident's phone number.")]
StaffOption = Annotated[str, typer.Option("--staff", help="Who answers the request (written to the audit log).")]


@residents_app.command("export")
def residents_export(
    staff: StaffOption,
    out: Annotated[Path, typer.Option("--out", help="JSON file to write the resident's records to.")],
    email: EmailOption = None,
    phone: PhoneOption = None,
) -> None:
    """Write every record held about a resident (found by email and/or phone) to a JSON file for them."""
    from civicdesk.residents import service as residents

    settings = get_settings()
    factory = make_session_factory(make_engine(settings.sqlalchemy_url))
    with transaction(factory) as session:
        records = residents.find(session, email, phone)
        document = residents.export(records)
        residents.record_export(session, records, staff)
    out.write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")
    found = ", ".join(f"{n} {name}" for name, n in records.counts().items() if n) or "nothing"
    typer.echo(f"wrote {out}: {found}")


@residents_app.command("erase")
def residents_erase(
    staff: StaffOption,
    email: EmailOption = None,
    phone: PhoneOption = None,
    yes: Annotated[bool, typer.Option("--yes", help="Erase; without it, only list what would be erased.")] = False,
) -> None:
    """Erase a resident's records on their request: delete what exists only for them, anonymize the rest."""
    from civicdesk.residents import service as residents

    settings = get_settings()
    factory = make_session_factory(make_engine(settings.sqlalchemy_url))
    with transaction(factory) as session:
        records = residents.find(session, email, phone)
        if not yes:
            found = ", ".join(f"{n} {name}" for name, n in records.counts().items() if n) or "nothing"
            typer.echo(f"would erase: {found}; run again with --yes to erase")
            return
        done = residents.erase(session, records, staff, settings.tracker_db_path)
    typer.echo("erased: " + (", ".join(f"{n} {name}" for name, n in done.items() if n) or "nothing was found"))


@sla_app.command("escalate")
def sla_escalate(
    every: Annotated[
        float | None, typer.Option("--every", min=5, help="Keep running, checking every this many seconds.")
    ] = None,
) -> None:
    """Escalate chats and emails waiting past their service level: routine becomes urgent, supervisors are emailed."""
    from civicdesk.work import service_levels

    settings = get_settings()
    _setup_logging(settings)
    factory = make_session_factory(make_engine(settings.sqlalchemy_url))
    stop = threading.Event()
    if every is not None:
        for signum in (signal.SIGINT, signal.SIGTERM):  # stop between checks, not in the middle of one
            signal.signal(signum, lambda *_: stop.set())
    while True:
        with transaction(factory) as session:
            escalated = service_levels.escalate(session)
        for item in escalated:
            typer.echo(f"escalated {item.kind} {item.key} (due {item.due_at:%Y-%m-%d %H:%M} UTC): now {item.urgency}")
        if every is None or stop.wait(every):
            return


@app.command()
def report(
    start: Annotated[str, typer.Option("--from", help="First day of the period, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option("--to", help="Day after the period, YYYY-MM-DD (not included).")],
    out: Annotated[Path, typer.Option("--out", help="File to write.")],
    fmt: Annotated[str, typer.Option("--format", help="html, pdf or csv.")] = "html",
) -> None:
    """Write the contact centre's report (volumes, assistant, resolution, triage, knowledge gaps) for a period."""
    from civicdesk.reports import figures as reports
    from civicdesk.reports import render as report_render

    if fmt not in report_render.FORMATS:
        raise UserError(f"--format {fmt!r} is not one of: {', '.join(report_render.FORMATS)}")
    period = reports.parse_period(start, end)
    settings = get_settings()
    factory = make_session_factory(make_engine(settings.sqlalchemy_url))
    with factory() as session:
        data = report_render.render(reports.build(session, period), fmt)
    try:
        out.write_bytes(data)
    except OSError as error:
        raise UserError(f"cannot write {out}: {error.strerror}") from None
    typer.echo(f"wrote {out}: {fmt} report for {period.label}")
