"""The `civicdesk` command: database, seed data, training, and every long-running process of the stack.

This package is the only place that wires processes together (it alone imports `email_ingest`); each command
group lives in its own module and is assembled here. Commands import the areas that load spaCy, scikit-learn,
matplotlib or the ingester inside their bodies, so `civicdesk --help` and the light commands start in a few seconds.
"""

from __future__ import annotations

import typer

from civicdesk.cli import classifiers, cluster, database, knowledge, processes, reports, residents, staff, work
from civicdesk.errors import UserError

app = typer.Typer(help=__doc__.split("\n\n")[0], no_args_is_help=True, pretty_exceptions_enable=False)
for command in (processes.check, database.seed, processes.serve, processes.ingest, processes.train):
    app.command()(command)
app.command()(processes.rasa)
app.command()(processes.actions)
app.command()(cluster.cluster)
app.command()(reports.report)
app.add_typer(database.db_app, name="db")
app.add_typer(knowledge.kb_app, name="kb")
app.add_typer(residents.retention_app, name="retention")
app.add_typer(residents.residents_app, name="residents")
app.add_typer(work.sla_app, name="sla")
app.add_typer(staff.clients_app, name="clients", help="API keys of Open311 apps and internal callers.")
app.add_typer(staff.users_app, name="users", help="Console accounts: create, list, disable (agents, supervisors, ...).")
app.add_typer(classifiers.app, name="classifiers", help="Triage classifiers: train, evaluate, predict.")


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
