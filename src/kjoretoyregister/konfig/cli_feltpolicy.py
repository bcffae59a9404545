"""``admin grant feltpolicy`` and ``admin feltpolicy``: data minimisation per grant.

:mod:`konfig.cli` registers these on its apps (so the grant commands stay in one
``admin grant`` group); its helpers are imported inside the commands, after it has loaded.
"""

from __future__ import annotations

from typing import Annotated

import typer

from kjoretoyregister.konfig import feltpolicy, grant_policy, schemas
from kjoretoyregister.konfig.errors import KonfigError


def grant_feltpolicy(
    integration: str = typer.Option(..., "--integration", help="IntegrasjonId (UUID)."),
    org: str = typer.Option(..., "--org", help="fiksOrgId of the organisation granting access."),
    privilege: str = typer.Option(
        ..., "--privilege", help="KJORETOYREGISTER.OPPSLAG or .EIERSOK (or OPPSLAG, EIERSOK)."
    ),
    preset: str | None = typer.Option(
        None, "--preset", help="A published preset: parkering, tauing, teknisk."
    ),
    versjon: int | None = typer.Option(
        None, "--versjon", min=1, help="The preset's version (newest if absent)."
    ),
    felter: Annotated[
        list[str] | None,
        typer.Option("--felt", help="Custom: a Kjoretoy field path to keep (repeatable)."),
    ] = None,
    kundefelter: Annotated[
        list[str] | None,
        typer.Option("--kundefelt", help="Custom: a Kunde field path to keep (repeatable)."),
    ] = None,
    off: bool = typer.Option(False, "--av", help="Remove the policy: SVV's answer unchanged."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Limit which fields of SVV's answer calls under a grant receive (data minimisation).

    Give a preset (see 'admin feltpolicy'), custom --felt/--kundefelt paths, or --av.
    """
    from kjoretoyregister.konfig import cli

    felter, kundefelter = felter or [], kundefelter or []
    chosen = sum([bool(preset), bool(felter or kundefelter), off])
    if chosen != 1:
        raise cli._fail("give exactly one of --preset, --felt/--kundefelt or --av", 2)
    try:
        policy = None if off else grant_policy.resolve(preset, versjon, felter, kundefelter)
    except KonfigError as exc:  # checked before the database is touched
        raise cli._fail(exc.message, 2) from None
    actor = cli._actor()
    row = cli._run(
        lambda s: schemas.GrantOut.model_validate(
            grant_policy.set_field_policy(
                s, integration, org, cli._privilege(privilege), policy, actor=actor
            )
        )
    )
    if as_json:
        cli._print_json(row)
    else:
        what = row.feltpolicy or "ingen (svaret fra SVV uendret)"
        typer.echo(f"feltpolicy for {row.privilege} på {row.fiks_org_id}: {what}")


def list_feltpolicy(
    name: str | None = typer.Argument(None, help="Show one preset's fields (e.g. parkering)."),
    all_paths: bool = typer.Option(
        False, "--felter", help="List every field path a custom policy may name."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """The published field-policy presets (name@version) and the fields each keeps."""
    from kjoretoyregister.konfig import cli

    if all_paths:
        kjoretoy, kunde = feltpolicy.known_paths()
        if as_json:
            cli._print_json({"kjoretoy": sorted(kjoretoy), "kunde": sorted(kunde)})
            return
        for path in sorted(kjoretoy):
            typer.echo(f"--felt {path}")
        for path in sorted(kunde):
            typer.echo(f"--kundefelt {path}")
        return
    try:
        shown = [feltpolicy.preset(name)] if name else feltpolicy.presets()
    except KonfigError as exc:
        raise cli._fail(exc.message, 2) from None
    if as_json:
        cli._print_json([p.as_dict() for p in shown])
        return
    if name:
        policy = shown[0]
        typer.echo(f"{policy.id}: {policy.beskrivelse}")
        for path in policy.kjoretoy:
            typer.echo(f"  kjoretoy  {path}")
        for path in policy.kunde:
            typer.echo(f"  kunde     {path}")
        return
    cli._table(
        "Feltpolicyer",
        ["id", "beskrivelse", "kjøretøyfelt", "kundefelt"],
        [[p.id, p.beskrivelse, len(p.kjoretoy), len(p.kunde)] for p in shown],
    )
