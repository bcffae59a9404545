"""The ``kjoretoyregister`` command: one sub-command group per part of the system.

Each part owns its commands in its own ``cli.py``; this module only mounts them.
"""

from __future__ import annotations

import typer

from kjoretoyregister import __version__, helpstyle
from kjoretoyregister.audit.cli import app as audit_app
from kjoretoyregister.client.cli import oppslag_app, sok_app
from kjoretoyregister.demo import app as demo_app
from kjoretoyregister.gateway.cli import app as gateway_app
from kjoretoyregister.konfig.cli import app as admin_app
from kjoretoyregister.maskinporten.cli import app as maskinporten_app
from kjoretoyregister.portal.cli import app as portal_app
from kjoretoyregister.svv.cli import app as svv_app

helpstyle.apply()

app = typer.Typer(
    name="kjoretoyregister",
    help="Fiks Kjøretøyregister: gateway, SVV simulator, Maskinporten stand-in and tools.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(svv_app, name="svv")
app.add_typer(maskinporten_app, name="maskinporten")
app.add_typer(gateway_app, name="gateway")
app.add_typer(demo_app, name="demo")
app.add_typer(audit_app, name="audit")
app.add_typer(oppslag_app, name="oppslag")
app.add_typer(sok_app, name="sok")
app.add_typer(admin_app, name="admin")
app.add_typer(portal_app, name="portal")


def _version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Fiks Kjøretøyregister re-implemented: run `kjoretoyregister demo` to start the stack."""


def main() -> None:
    app()
