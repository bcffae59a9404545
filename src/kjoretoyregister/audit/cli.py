"""``kjoretoyregister audit …``: verify, checkpoint, search, export, innsyn, usage, purge
(and ``anchor``/``anchor-key`` from :mod:`~kjoretoyregister.audit.cli_anchors`).

Every command finds the store through ``KJR_DATABASE_URL`` (``settings.effective_database_url``)
and migrates it up first. Reads (search, export, innsyn, usage) are themselves recorded in the
chain with the actor ``cli:<os user>``.
"""

from __future__ import annotations

import csv
import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine

from kjoretoyregister.audit import cli_anchors, query, retention
from kjoretoyregister.audit.events import AuditUnavailable
from kjoretoyregister.audit.pseudonyms import Pseudonymizer, pseudonymizer_from_settings
from kjoretoyregister.audit.verify import verify as verify_chain
from kjoretoyregister.cliutil import migrate_or_exit, settings_or_exit
from kjoretoyregister.config import Settings
from kjoretoyregister.store.db import make_engine

app = typer.Typer(help="The audit log: verify, search, export, innsyn, usage, retention.")
checkpoint_app = typer.Typer(help="Chain checkpoints (head hash + count + time).")
app.add_typer(checkpoint_app, name="checkpoint")
cli_anchors.register(app)


class ExportFormat(StrEnum):
    """Export formats: one JSON object per entry, or one CSV row per item."""

    jsonl = "jsonl"
    csv = "csv"


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


@contextmanager
def _store() -> Iterator[tuple[Settings, Engine, Pseudonymizer]]:
    settings = settings_or_exit()
    url = migrate_or_exit(settings.effective_database_url)
    engine = make_engine(url)
    try:
        yield settings, engine, pseudonymizer_from_settings(settings)
    finally:
        engine.dispose()


def _time(value: str | None, what: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"{what}: not an ISO date/time: {value!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _dump(obj: Any) -> str:
    return orjson.dumps(obj, option=orjson.OPT_INDENT_2).decode()


def _unavailable(exc: AuditUnavailable) -> typer.Exit:
    typer.echo(f"error: audit store unavailable: {exc}", err=True)
    return typer.Exit(1)


# Module-level option objects: typer reads them as defaults (ruff B008 wants them hoisted).
_AGAINST = typer.Option(
    None, "--against", help="An exported checkpoint JSON to compare with", exists=True
)
_OUT = typer.Option(None, "--out", help="Write here instead of stdout")
_FMT = typer.Option(ExportFormat.jsonl, "--format", help="jsonl or csv")


_ANCHORS = typer.Option(
    None, "--anchors", help="A JSON Lines file of signed anchors to check (repeatable)"
)
_PUBKEYS = typer.Option(
    None,
    "--public-key",
    help="Accepted anchor public key: PEM file or PEM (repeatable) "
    "[default: the configured anchor key and KJR_AUDIT__ANCHOR_PUBLIC_KEYS]",
)


@app.command()
def verify(
    against: Path | None = _AGAINST,
    anchor_files: list[Path] | None = _ANCHORS,
    public_keys: list[str] | None = _PUBKEYS,
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON"),
) -> None:
    """Check the hash chain; exit 0 when intact, 1 when anything was changed or removed."""
    cp = orjson.loads(against.read_bytes()) if against else None
    settings = settings_or_exit()
    # Keys and files first: a bad one is a usage error before the store is opened.
    files = cli_anchors.read_anchor_files(anchor_files or [])
    keys = cli_anchors.verification_keys(settings, public_keys) if files else {}
    with _store() as (_, engine, _pz):
        report = verify_chain(engine, cp)
        found = cli_anchors.check_files(engine, files, keys)
    report.problems += found.problems
    report.notes += found.notes
    if as_json:
        out = report.as_dict()
        if files:
            out["anchors_checked"] = found.checked
        typer.echo(_dump(out))
    else:
        for p in report.problems:
            typer.echo(f"TAMPERED {p.kind} at seq {p.seq}: {p.message}")
        for note in report.notes:
            typer.echo(f"note: {note}")
        state = "intact" if report.ok else f"{len(report.problems)} problem(s)"
        anchored = f" and {found.checked} anchor(s)" if files else ""
        typer.echo(
            f"checked {report.checked} entries from anchor seq {report.base_seq} to head "
            f"{report.head_seq}{anchored}: {state}"
        )
    raise typer.Exit(0 if report.ok else 1)


@checkpoint_app.command("create")
def checkpoint_create() -> None:
    """Snapshot the chain head now and print it as JSON."""
    with _store() as (_, engine, _pz):
        typer.echo(_dump(retention.create_checkpoint(engine, "manual")))


@checkpoint_app.command("export")
def checkpoint_export(
    out: Path | None = _OUT,
    latest: bool = typer.Option(
        False, "--latest", help="Export the newest stored checkpoint instead of a fresh one"
    ),
) -> None:
    """Export a checkpoint as JSON, to keep off this host for `audit verify --against`."""
    with _store() as (_, engine, _pz):
        cp = retention.latest_checkpoint(engine) if latest else None
        cp = cp or retention.create_checkpoint(engine, "manual")
    text = _dump(cp)
    if out:
        out.write_text(text + "\n")
    else:
        typer.echo(text)


def _filters(
    org: str | None,
    integrasjon: str | None,
    since: str | None,
    until: str | None,
    identifier: str | None,
    identifier_kind: str | None,
    kind: str | None,
) -> query.Filters:
    return query.Filters(
        fiks_org_id=org,
        integrasjon_id=integrasjon,
        since=_time(since, "--since"),
        until=_time(until, "--until"),
        identifier=identifier,
        identifier_kind=identifier_kind,
        kind=kind,
    )


_ORG = typer.Option(None, "--org", help="fiksOrgId")
_INT = typer.Option(None, "--integrasjon", help="Integration id")
_SINCE = typer.Option(None, "--since", help="From this ISO date/time (UTC if no zone)")
_UNTIL = typer.Option(None, "--until", help="Before this ISO date/time")
_IDENT = typer.Option(
    None, "--identifier", help="kjennemerke, VIN, kuid, fnr or orgnr (matched by pseudonym)"
)
_IKIND = typer.Option(
    None, "--identifier-kind", help="Restrict --identifier to one kind (e.g. kjennemerke)"
)
_KIND = typer.Option("lookup", "--kind", help="lookup, access, or all")


@app.command()
def search(
    org: str | None = _ORG,
    integrasjon: str | None = _INT,
    since: str | None = _SINCE,
    until: str | None = _UNTIL,
    identifier: str | None = _IDENT,
    identifier_kind: str | None = _IKIND,
    kind: str = _KIND,
    limit: int = typer.Option(50, min=1, help="Show the newest N entries, newest first"),
    as_json: bool = typer.Option(False, "--json", help="JSON lines instead of a table"),
) -> None:
    """Search the audit log (this read is itself audited)."""
    f = _filters(
        org, integrasjon, since, until, identifier, identifier_kind, None if kind == "all" else kind
    )
    with _store() as (_, engine, pz):
        try:
            rows = query.search(engine, pz, f, actor=_actor(), limit=limit, newest_first=True)
            if as_json:
                for entry in rows:
                    sys.stdout.write(orjson.dumps(entry).decode() + "\n")
                return
            table = Table("seq", "time", "org", "integrasjon", "endpoint", "items", "purpose")
            for e in rows:
                items = ", ".join(
                    f"{i['identifier_type']}={i['identifier']}:{i['outcome']}" for i in e["items"]
                )
                table.add_row(
                    str(e["seq"]),
                    e["time"],
                    e["fiks_org_id"] or "",
                    e["integrasjon_id"] or e["actor"] or "",
                    e["endpoint"] or e["action"] or "",
                    items,
                    e["purpose"] or "",
                )
            Console().print(table)
        except AuditUnavailable as exc:
            raise _unavailable(exc) from None


@app.command()
def export(
    fmt: ExportFormat = _FMT,
    out: Path | None = _OUT,
    org: str | None = _ORG,
    integrasjon: str | None = _INT,
    since: str | None = _SINCE,
    until: str | None = _UNTIL,
    identifier: str | None = _IDENT,
    identifier_kind: str | None = _IKIND,
    kind: str = _KIND,
) -> None:
    """Export matching entries, streamed (JSONL: one entry per line; CSV: one row per item)."""
    f = _filters(
        org, integrasjon, since, until, identifier, identifier_kind, None if kind == "all" else kind
    )
    with _store() as (_, engine, pz):
        fh: IO[str] = out.open("w", newline="") if out else sys.stdout
        try:
            rows = query.search(engine, pz, f, actor=_actor(), action=f"export-{fmt.value}")
            if fmt is ExportFormat.jsonl:
                for entry in rows:
                    fh.write(orjson.dumps(entry).decode() + "\n")
            else:
                writer = csv.DictWriter(fh, fieldnames=query.CSV_FIELDS)
                writer.writeheader()
                for entry in rows:
                    writer.writerows(query.flatten(entry))
        except AuditUnavailable as exc:
            raise _unavailable(exc) from None
        finally:
            if out:
                fh.close()


@app.command()
def innsyn(
    fodselsnummer: str | None = typer.Option(None, "--fodselsnummer", help="A person's fnr"),
    orgnr: str | None = typer.Option(None, "--orgnr", help="An organisation number"),
    kjennemerke: str | None = typer.Option(None, "--kjennemerke", help="A registration plate"),
    as_json: bool = typer.Option(False, "--json", help="JSON instead of a readable report"),
) -> None:
    """Who looked up data about a person, organisation or vehicle: when, where from, and why."""
    given = [
        (k, v)
        for k, v in (
            ("fodselsnummer", fodselsnummer),
            ("organisasjonsnummer", orgnr),
            ("kjennemerke", kjennemerke),
        )
        if v
    ]
    if len(given) != 1:
        raise typer.BadParameter("give exactly one of --fodselsnummer, --orgnr, --kjennemerke")
    kind, value = given[0]
    with _store() as (_, engine, pz):
        try:
            rows = query.innsyn(engine, pz, kind, value, actor=_actor())
        except AuditUnavailable as exc:
            raise _unavailable(exc) from None
    if as_json:
        typer.echo(_dump({"subject_kind": kind, "lookups": rows}))
        return
    _innsyn_report(kind, rows)


_HOW = {
    ("requested", "kjennemerke"): "the vehicle was looked up by its kjennemerke",
    ("requested", "fodselsnummer"): "vehicles were searched for by this fødselsnummer",
    ("requested", "organisasjonsnummer"): "vehicles were searched for by this orgnr",
    ("returned", "fodselsnummer"): "returned as owner, co-owner or lessee of a vehicle",
    ("returned", "organisasjonsnummer"): "returned as owner, lessee or sub-unit of a vehicle",
}


def _innsyn_report(kind: str, rows: list[dict[str, Any]]) -> None:
    """A readable report: one block per lookup, soft-wrapped so narrow terminals stay legible."""
    console = Console(soft_wrap=True, highlight=False)
    console.print(f"[bold]Innsyn[/bold]: {len(rows)} lookup(s) of data about this {kind}")
    for r in rows:
        org = f"{r['org_navn']} ({r['fiks_org_id']})" if r["org_navn"] else r["fiks_org_id"]
        console.print()
        console.print(f"[bold]{r['time']}[/bold]  {org or 'unknown organisation'}")
        console.print(f"  integration: {r['integrasjon_id']}  (for orgnr {r['consumer_orgnr']})")
        console.print(f"  endpoint:    {r['endpoint']}")
        console.print(f"  purpose:     {r['purpose'] or '(none stated)'}")
        if r["case_reference"]:
            console.print(f"  case:        {r['case_reference']}")
        how = _HOW.get((r["role"], kind), r["role"])
        console.print(f"  how:         {how}; outcome {r['outcome']}")


@app.command()
def usage(
    month: str = typer.Option(..., "--month", help="YYYY-MM, e.g. 2026-11"),
    org: str | None = _ORG,
    as_json: bool = typer.Option(False, "--json", help="JSON instead of a table"),
) -> None:
    """Lookups per organisation in a month: requests and items (billing basis)."""
    try:
        query.month_bounds(month)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    with _store() as (_, engine, _pz):
        try:
            rows = query.usage(engine, month, actor=_actor(), fiks_org_id=org)
        except AuditUnavailable as exc:
            raise _unavailable(exc) from None
    if as_json:
        typer.echo(_dump(rows))
        return
    table = Table("month", "fiksOrgId", "organisation", "requests", "items", "billable")
    for r in rows:
        table.add_row(
            r["month"],
            r["fiks_org_id"] or "",
            r["org_navn"] or "",
            str(r["requests"]),
            str(r["items"]),
            "yes" if r["billable"] else "no",
        )
    Console().print(table)


@app.command()
def purge(
    retention_days: int | None = typer.Option(
        None, "--retention-days", min=1, help="Keep this many days [KJR_AUDIT__RETENTION_DAYS]"
    ),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation"),
) -> None:
    """Remove records older than the retention period (checkpoint first; chain stays verifiable)."""
    with _store() as (settings, engine, _pz):
        days = retention_days or settings.audit.retention_days
        if not yes:
            typer.confirm(f"Remove audit records older than {days} days?", abort=True)
        result = retention.purge(engine, retention_days=days, actor=_actor())
    typer.echo(
        _dump(
            {
                "removed": result.removed,
                "anchor_seq": result.anchor_seq,
                "checkpoint": result.checkpoint,
            }
        )
    )
