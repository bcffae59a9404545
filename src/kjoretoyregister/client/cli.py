"""
``kjoretoyregister oppslag …`` and ``kjoretoyregister sok …``: lookups from the command line.

Connection settings come from the profile file ``kjoretoyregister demo --profile PATH`` writes
(``--profile PATH`` or ``KJR_PROFILE``). Vehicle cards by default; ``--json`` prints SVV's body
exactly as received (``sok --all --json`` prints one page body per line).
Exit codes (the same for every ``oppslag``/``sok`` command):

- 0: answered, and every identifier was found / the search had hits;
- 1: refused (Fiks or SVV said no; the errorId or svvguid is printed) or not reachable;
- 2: usage error: bad arguments, a malformed plate/kuid/dtg (checked before any request), or
  no or bad profile;
- 3: answered, but an identifier was not found or the search had no hits.

Every error is one ``error: …`` line on stderr (and, for a refusal, the id to quote).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import orjson
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
    TokenError,
    TransportError,
)
from kjoretoyregister.client.models import KjoretoyResponse, KjoretoysokResponse, KundeSokResponse
from kjoretoyregister.client.profile import ProfileError
from kjoretoyregister.cliutil import settings_or_exit
from kjoretoyregister.gateway.errors import InvalidInput
from kjoretoyregister.gateway.routes import ROUTES
from kjoretoyregister.gateway.validation import valid_dtg, validate_bulk_body

NORWAY = ZoneInfo("Europe/Oslo")
EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
_UNREACHABLE_HINT = (
    "hint: is the demo (or the service) running, and is the profile the one it wrote? "
    "(--profile PATH or KJR_PROFILE)"
)

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
    help="As of this time: a date (2020-01-01 = start of that day in Norway) or a date-time "
    "with offset (2018-11-15T23:00:00+01:00).",
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
        typer.echo("error: no profile: pass --profile PATH or set KJR_PROFILE", err=True)
        raise typer.Exit(EXIT_USAGE)
    try:
        return AsyncKjoretoyregisterClient.from_profile(settings.profile)
    except ProfileError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None


def _describe(exc: KjoretoyregisterError) -> str:
    if isinstance(exc, FiksError):
        return (
            f"error: Fiks Kjøretøyregister svarte {exc.status} {exc.error_code or ''}: "
            f"{exc.message}\nerrorId: {exc.error_id}"
        )
    if isinstance(exc, SvvError):
        detail = exc.feilmelding or ", ".join(
            f"{k.kode}: {k.beskrivelse}" for k in exc.responskoder
        )
        return f"error: SVV svarte {exc.status}: {detail or 'feil'}\nsvvguid: {exc.svvguid}"
    if isinstance(exc, ResponseError):
        return f"error: uventet svar {exc.status} (X-Request-ID {exc.request_id})"
    if isinstance(exc, TokenError | TransportError):
        return f"error: {exc}\n{_UNREACHABLE_HINT}"
    return f"error: {exc}"


def _usage_error(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(EXIT_USAGE)


def _run(
    profile: Path | None, work: Callable[[AsyncKjoretoyregisterClient], Awaitable[bool]]
) -> None:
    """Run ``work`` with a client from the profile; it returns whether everything was found.

    Service errors exit 1 with their ids; a miss exits 3 after the answer is shown.
    """
    client = _open_client(profile)

    async def main() -> bool:
        async with client:
            return await work(client)

    try:
        found = asyncio.run(main())
    except KjoretoyregisterError as exc:
        typer.echo(_describe(exc), err=True)
        raise typer.Exit(EXIT_REFUSED) from None
    except ValueError as exc:  # e.g. a page size the client refuses, before any request
        raise _usage_error(str(exc)) from None
    if not found:
        raise typer.Exit(EXIT_NOT_FOUND)


def _dtg(value: str | None) -> str | None:
    """``--dtg`` as the gateway wants it; refused here (exit 2) if it is neither accepted form.

    A bare date means the start of that day in Norway (what a case officer means by it).
    """
    if value is None or valid_dtg(value):
        return value
    try:
        day = date.fromisoformat(value) if len(value) == len("2020-01-01") else None
    except ValueError:
        day = None
    if day is None:
        raise _usage_error(
            f"--dtg {value!r} is neither a date (2020-01-01, the start of that day in Norway) "
            "nor a date-time with offset (2020-01-01T12:00:00+01:00 or …Z)"
        )
    return format_dtg(datetime(day.year, day.month, day.day, tzinfo=NORWAY))


def _check_identifiers(endpoint: str, key: str, ids: list[str]) -> None:
    """Refuse a malformed plate or kuid before any request, with the gateway's own rules."""
    body = orjson.dumps([{key: value} for value in ids])
    try:
        validate_bulk_body(ROUTES[endpoint], body, max_items=max(len(ids), 1))
    except InvalidInput as exc:
        raise _usage_error(exc.message) from None


def _all_found(answers: list[KjoretoyResponse]) -> bool:
    """Exit 0 or 3: an empty answer or any miss is "not found"."""
    return bool(answers) and all(answer.kjoretoy is not None for answer in answers)


def _print_raw(raw: RawResponse) -> None:
    # Bytes unchanged (no re-encoding); a newline after it so the shell prompt starts clean.
    typer.echo(raw.body)


# -- oppslag ---------------------------------------------------------------------------------


def _bulk(
    endpoint: str, key: str, ids: list[str], dtg: str | None, as_json: bool, profile: Path | None
) -> None:
    _check_identifiers(endpoint, key, ids)
    when = _dtg(dtg)

    async def work(client: AsyncKjoretoyregisterClient) -> bool:
        raw = await client.request("POST", endpoint, json_body=bulk_items(key, ids, when))
        answers = parse_list(raw)
        if as_json:
            _print_raw(raw)
        else:
            Console().print(vehicle_cards(answers, ids, as_of=dtg))
        return _all_found(answers)

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

    when = _dtg(dtg)

    async def work(client: AsyncKjoretoyregisterClient) -> bool:
        endpoint = f"bulk/understellsnummer/{quote(understellsnummer, safe='')}"
        raw = await client.request("GET", endpoint, params={"dtg": when})
        answers = parse_list(raw)
        if as_json:
            _print_raw(raw)
        else:
            requests = [understellsnummer] * max(len(answers), 1)
            Console().print(vehicle_cards(answers, requests, as_of=dtg))
        return _all_found(answers)

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

    async def work(client: AsyncKjoretoyregisterClient) -> bool:
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
        count = sum(len(page.treff) for page in pages)
        if as_json:
            return count > 0
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
        return count > 0

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
