"""`civicdesk residents ...` (a resident's records on their request) and `civicdesk retention ...` (the schedule)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer

from civicdesk.cli.common import session_factory
from civicdesk.db import transaction, utcnow
from civicdesk.settings import get_settings

residents_app = typer.Typer(help="A resident's records, on their request: export or erase.", no_args_is_help=True)
retention_app = typer.Typer(help="The retention schedule for personal information.", no_args_is_help=True)


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
    from civicdesk.residents import retention
    from email_ingest.service import mail_sources

    settings = get_settings()
    factory = session_factory()
    sources = mail_sources(settings, factory)

    def mail_store(cutoff: dt.datetime, apply: bool) -> int:
        return sum(source.purge_before(cutoff, apply) for source in sources)

    with transaction(factory) as session:
        outcomes = retention.run(
            session, utcnow(), settings.retention_days, settings.tracker_store_url, apply=apply, mail_store=mail_store
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

    factory = session_factory()
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
    factory = session_factory()
    with transaction(factory) as session:
        records = residents.find(session, email, phone)
        if not yes:
            found = ", ".join(f"{n} {name}" for name, n in records.counts().items() if n) or "nothing"
            typer.echo(f"would erase: {found}; run again with --yes to erase")
            return
        done = residents.erase(session, records, staff, settings.tracker_store_url)
    typer.echo("erased: " + (", ".join(f"{n} {name}" for name, n in done.items() if n) or "nothing was found"))
