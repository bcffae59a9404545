"""
``kjoretoyregister oppslag …`` and ``kjoretoyregister sok …``: lookups from the command line.

Connection settings come from the profile file ``kjoretoyregister demo --profile PATH`` writes
(``--profile PATH`` or ``KJR_PROFILE``). Vehicle cards by default; ``--json`` prints SVV's body
exactly as received (``sok --all --json`` prints one page body per line).
Exit codes: 0 done, 1 the service said no or could not be reached, 2 bad profile/arguments.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import typer
from rich.console import Console

from kjoretoyregister.client._client import AsyncKjoretoyregisterClient
from kjoretoyregister.client._paging import iter_pages
from kjoretoyregister.client._params import bulk_items, format_dtg
from kjoretoyregister.client._parsing import parse_list, parse_page
from kjoretoyregister.client._transport import RawResponse
from kjoretoyregister.client.cards import hit_table, kunde_table, vehicle_cards
from kjoretoyregister.client.errors import (
    FiksError,
    KjoretoyregisterError,
    ResponseError,
    SvvError,
)
from kjoretoyregister.client.models import KjoretoysokResponse, KundeSokResponse
from kjoretoyregister.client.profile import ProfileError
from kjoretoyregister.cliutil import settings_or_exit

NORWAY = ZoneInfo("Europe/Oslo")

oppslag_app = typer.Typer(
    help="Look vehicles up by kjennemerke, kuid or understellsnummer (SVV bulk oppslag).",
    no_args_is_help=True,
)
sok_app = typer.Typer(
    help="Search vehicles (Kjøretøysøk) by plate pattern, VIN, owner id or owner name.",
    no_args_is_help=True,
)

ProfileOption = typer.Option(
    None, "--profile", help="Profile JSON from `demo --profile` (default: $KJR_PROFILE)."
)
JsonOption = typer.Option(False, "--json", help="Print SVV's JSON body exactly as received.")
DtgOption = typer.Option(
    None,
    "--dtg",
    help="As of this time: 2018-11-15T23:00:00+01:00, or a date = its start in Norway.",
)
FraOption = typer.Option(None, "--fra", min=1, help="First row to return (1-based).")
AntallOption = typer.Option(None, "--antall", min=1, help="Rows per page.")
AllOption = typer.Option(False, "--all", help="Fetch every page, not just one.")
EkskluderOption = typer.Option(
    None, "--ekskluder-vraket-utfort/--med-vraket-utfort", help="Leave out scrapped/exported."
)


def _open_client(profile: Path | None) -> AsyncKjoretoyregisterClient:
    settings = settings_or_exit(profile=profile)
    if settings.profile is None:
        typer.echo("No profile: pass --profile PATH or set KJR_PROFILE.", err=True)
        raise typer.Exit(2)
    try:
        return AsyncKjoretoyregisterClient.from_profile(settings.profile)
    except ProfileError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


def _describe(exc: KjoretoyregisterError) -> str:
    if isinstance(exc, FiksError):
        return (
            f"Fiks Kjøretøyregister svarte {exc.status} {exc.error_code or ''}: {exc.message}\n"
            f"errorId: {exc.error_id}"
        )
    if isinstance(exc, SvvError):
        detail = exc.feilmelding or ", ".join(
            f"{k.kode}: {k.beskrivelse}" for k in exc.responskoder
        )
        return f"SVV svarte {exc.status}: {detail or 'feil'}\nsvvguid: {exc.svvguid}"
    if isinstance(exc, ResponseError):
        return f"Uventet svar {exc.status} (X-Request-ID {exc.request_id})"
    return f"{type(exc).__name__}: {exc}"


def _run(
    profile: Path | None, work: Callable[[AsyncKjoretoyregisterClient], Awaitable[None]]
) -> None:
    """Run ``work`` with a client from the profile; service errors exit 1 with their ids."""
    client = _open_client(profile)

    async def main() -> None:
        async with client:
            await work(client)

    try:
        asyncio.run(main())
    except KjoretoyregisterError as exc:
        typer.echo(_describe(exc), err=True)
        raise typer.Exit(1) from None
    except ValueError as exc:  # e.g. a bad dtg, caught before any request
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


def _dtg(value: str | None) -> str | None:
    """A bare date means the start of that day in Norway (what a case officer means by it)."""
    if value is None or len(value) != len("2020-01-01"):
        return value
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return value  # let the gateway explain what is wrong with it
    return format_dtg(datetime(day.year, day.month, day.day, tzinfo=NORWAY))


def _print_raw(raw: RawResponse) -> None:
    # Bytes unchanged (no re-encoding); a newline after it so the shell prompt starts clean.
    typer.echo(raw.body)


# -- oppslag ---------------------------------------------------------------------------------


def _bulk(
    endpoint: str, key: str, ids: list[str], dtg: str | None, as_json: bool, profile: Path | None
) -> None:
    async def work(client: AsyncKjoretoyregisterClient) -> None:
        raw = await client.request("POST", endpoint, json_body=bulk_items(key, ids, _dtg(dtg)))
        if as_json:
            _print_raw(raw)
            return
        Console().print(vehicle_cards(parse_list(raw), ids))

    _run(profile, work)


@oppslag_app.command("kjennemerke")
def oppslag_kjennemerke(
    kjennemerke: Annotated[list[str], typer.Argument(help="One or more plates, e.g. CU11297.")],
    dtg: str | None = DtgOption,
    as_json: bool = JsonOption,
    profile: Path | None = ProfileOption,
) -> None:
    """Look vehicles up by kjennemerke (plate) and show a card per plate."""
    _bulk("bulk/kjennemerke", "kjennemerke", kjennemerke, dtg, as_json, profile)


@oppslag_app.command("kuid")
def oppslag_kuid(
    kuid: Annotated[list[str], typer.Argument(help="One or more kuid (10 digits).")],
    dtg: str | None = DtgOption,
    as_json: bool = JsonOption,
    profile: Path | None = ProfileOption,
) -> None:
    """Look vehicles up by kuid, SVV's vehicle id."""
    _bulk("bulk/kuid", "kuid", kuid, dtg, as_json, profile)


@oppslag_app.command("understellsnummer")
def oppslag_understellsnummer(
    understellsnummer: str = typer.Argument(..., help="The VIN, e.g. SISDINKY45727043."),
    dtg: str | None = DtgOption,
    as_json: bool = JsonOption,
    profile: Path | None = ProfileOption,
) -> None:
    """Look vehicles up by understellsnummer (VIN); one VIN may match several vehicles."""

    async def work(client: AsyncKjoretoyregisterClient) -> None:
        endpoint = f"bulk/understellsnummer/{quote(understellsnummer, safe='')}"
        raw = await client.request("GET", endpoint, params={"dtg": _dtg(dtg)})
        if as_json:
            _print_raw(raw)
            return
        answers = parse_list(raw)
        Console().print(vehicle_cards(answers, [understellsnummer] * max(len(answers), 1)))

    _run(profile, work)


# -- sok -------------------------------------------------------------------------------------


def _sok(
    endpoint: str,
    params: dict[str, Any],
    *,
    fra: int | None,
    antall: int | None,
    all_pages: bool,
    as_json: bool,
    profile: Path | None,
) -> None:
    kunde = endpoint == "sok/kunde"

    def parse(raw: RawResponse) -> KjoretoysokResponse | KundeSokResponse:
        if kunde:
            return parse_page(raw, KundeSokResponse)
        return parse_page(raw, KjoretoysokResponse)

    async def work(client: AsyncKjoretoyregisterClient) -> None:
        pages: list[KjoretoysokResponse | KundeSokResponse] = []

        async def fetch(start: int, size: int | None) -> KjoretoysokResponse | KundeSokResponse:
            raw = await client.request(
                "GET", endpoint, params={**params, "fra": start, "antall": size}
            )
            if as_json and raw.body:
                _print_raw(raw)
            return parse(raw)

        if all_pages:
            async for page in iter_pages(fetch, page_size=antall or client.page_size):
                pages.append(page)
        else:
            raw = await client.request(
                "GET", endpoint, params={**params, "fra": fra, "antall": antall}
            )
            if as_json:
                _print_raw(raw)
            pages.append(parse(raw))
        if as_json:
            return
        count = sum(len(page.treff) for page in pages)
        total = (pages[-1].antall_treff_totalt or 0) if pages else 0
        title = f"{count} av {total} treff"
        if not all_pages and count < total:
            title += " (--all henter alle)"
        if kunde:
            kunder = [k for p in pages if isinstance(p, KundeSokResponse) for k in p.treff]
            Console().print(kunde_table(kunder, title=title))
        else:
            hits = [h for p in pages if isinstance(p, KjoretoysokResponse) for h in p.treff]
            Console().print(hit_table(hits, title=title))

    _run(profile, work)


@sok_app.command("eiernavn")
def sok_eiernavn(
    navn: str = typer.Argument(..., help="Full name of eier, medeier or leasingtaker."),
    postnummer: str | None = typer.Option(None, help="Filter on postnummer, e.g. 0150."),
    poststed: str | None = typer.Option(None, help="Filter on poststed."),
    fylke: str | None = typer.Option(None, help="Filter on fylke."),
    fodselsdato: str | None = typer.Option(None, help="Filter on fødselsdato (YYYY-MM-DD)."),
    er_person: bool | None = typer.Option(
        None, "--person/--organisasjon", help="Only persons, or only organisations."
    ),
    fra: int | None = FraOption,
    antall: int | None = AntallOption,
    all_pages: bool = AllOption,
    as_json: bool = JsonOption,
    profile: Path | None = ProfileOption,
) -> None:
    """Search vehicles by the name of their eier, medeier or leasingtaker."""
    params = {
        "navn": navn,
        "postnummer": postnummer,
        "poststed": poststed,
        "fylke": fylke,
        "fodselsdato": fodselsdato,
        "erPerson": er_person,
    }
    _sok(
        "sok/eiernavn",
        params,
        fra=fra,
        antall=antall,
        all_pages=all_pages,
        as_json=as_json,
        profile=profile,
    )


def _simple_sok(endpoint: str, name: str, help_text: str, doc: str) -> None:
    """Register ``sok <name> VALUE`` for the searches that take one identifier."""

    def command(
        value: str = typer.Argument(..., help=help_text),
        ekskluder: bool | None = EkskluderOption,
        fra: int | None = FraOption,
        antall: int | None = AntallOption,
        all_pages: bool = AllOption,
        as_json: bool = JsonOption,
        profile: Path | None = ProfileOption,
    ) -> None:
        params = {name: value, "ekskluderVraketUtfort": ekskluder}
        _sok(
            endpoint,
            params,
            fra=fra,
            antall=antall,
            all_pages=all_pages,
            as_json=as_json,
            profile=profile,
        )

    command.__doc__ = doc
    sok_app.command(endpoint.removeprefix("sok/"))(command)


_simple_sok(
    "sok/kjennemerke",
    "kjennemerke",
    "Plate; ? = one unknown character (≤ 3).",
    "Search vehicles by plate pattern.",
)
_simple_sok(
    "sok/understellsnummer",
    "understellsnummer",
    "VIN; * at start/end as wildcard.",
    "Search vehicles by VIN pattern.",
)
_simple_sok(
    "sok/fodselsnummer",
    "fodselsnummer",
    "Fødselsnummer (11 digits).",
    "Search vehicles of a person (eier, medeier, leasingtaker).",
)
_simple_sok(
    "sok/organisasjonsnummer",
    "organisasjonsnummer",
    "Organisasjonsnummer (9 digits).",
    "Search vehicles of an organisation (eier, medeier, leasingtaker).",
)
_simple_sok(
    "sok/kundeid",
    "kundeid",
    "SVV's customer id (kundeId).",
    "Search vehicles by SVV's customer id.",
)


@sok_app.command("kunde")
def sok_kunde(
    eiertype: str = typer.Argument(..., help="PERSON, ORGANISASJON or BEGGE."),
    navn: str | None = typer.Option(None, help="Full name (or organisation name)."),
    fornavn: str | None = typer.Option(None, help="First name (exact)."),
    etternavn: str | None = typer.Option(None, help="Surname (exact)."),
    fodselsdato: str | None = typer.Option(None, help="Birth date YYYY-MM-DD or year."),
    postnummer: str | None = typer.Option(None, help="Filter on postnummer."),
    fra: int | None = FraOption,
    antall: int | None = AntallOption,
    all_pages: bool = AllOption,
    as_json: bool = JsonOption,
    profile: Path | None = ProfileOption,
) -> None:
    """Search customers (persons/organisations) and how many vehicles each has."""
    params = {
        "eiertype": eiertype.upper(),
        "navn": navn,
        "fornavn": fornavn,
        "etternavn": etternavn,
        "fodselsdato": fodselsdato,
        "postnummer": postnummer,
    }
    _sok(
        "sok/kunde",
        params,
        fra=fra,
        antall=antall,
        all_pages=all_pages,
        as_json=as_json,
        profile=profile,
    )


__all__ = ["oppslag_app", "sok_app"]
