"""``kjoretoyregister maskinporten …``: the token service stand-in and its admin commands.

Every command works on the state directory (``--state-dir``, default ``<data_dir>/mp``); a
running ``serve`` picks up changes made by the other commands without a restart.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from kjoretoyregister.cliutil import serve_or_exit, settings_or_exit
from kjoretoyregister.config import Settings
from kjoretoyregister.maskinporten import certs, keys
from kjoretoyregister.maskinporten.state import DEFAULT_DELEGATION_SOURCE, MaskinportenState

app = typer.Typer(
    help="Maskinporten stand-in: token service and client registry.", no_args_is_help=True
)
client_app = typer.Typer(help="Register and list Maskinporten clients.", no_args_is_help=True)
delegation_app = typer.Typer(
    help="Altinn-style delegations that allow consumer_org in grants.", no_args_is_help=True
)
ca_app = typer.Typer(
    help="The test CA that virksomhetssertifikat chains lead to.", no_args_is_help=True
)
cert_app = typer.Typer(help="Issue test virksomhetssertifikat.", no_args_is_help=True)
key_app = typer.Typer(help="The stand-in's own token-signing keys.", no_args_is_help=True)
app.add_typer(client_app, name="client")
app.add_typer(delegation_app, name="delegation")
app.add_typer(ca_app, name="ca")
app.add_typer(cert_app, name="cert")
app.add_typer(key_app, name="key")

StateDirOption = Annotated[
    Path | None,
    typer.Option(
        "--state-dir", help="State directory (default <data_dir>/mp).", show_default=False
    ),
]
DEFAULT_SCOPE = "ks:fiks"
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def _settings(state_dir: Path | None, **section: Any) -> Settings:
    overrides = {k: v for k, v in section.items() if v is not None}
    if state_dir is not None:
        overrides["state_dir"] = state_dir
    return settings_or_exit(maskinporten=overrides)


def _state_dir(settings: Settings) -> Path:
    return settings.maskinporten.state_dir or settings.data_dir / "mp"


def _open(state_dir: Path | None) -> MaskinportenState:
    settings = _settings(state_dir)
    return MaskinportenState.open(
        _state_dir(settings), key_overlap_s=settings.maskinporten.key_overlap_s
    )


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def _print(data: Any, as_json: bool, text: str) -> None:
    if as_json:
        typer.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
    else:
        typer.echo(text)


def _iso(epoch: int | None) -> str | None:
    return None if epoch is None else dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat()


# -- serve ------------------------------------------------------------------------------------
@app.command()
def serve(
    host: Annotated[str | None, typer.Option("--host", help="Interface to listen on.")] = None,
    port: Annotated[
        int | None, typer.Option("--port", help="Port to listen on (default 8082).")
    ] = None,
    state_dir: StateDirOption = None,
    public_url: Annotated[
        str | None,
        typer.Option("--public-url", help="Issuer base URL; default the URL each client used."),
    ] = None,
    token_lifetime_s: Annotated[
        int | None,
        typer.Option("--token-lifetime-s", help="Access token lifetime in seconds (default 120)."),
    ] = None,
    idporten: Annotated[
        bool,
        typer.Option(
            "--idporten",
            help="Also serve the ID-porten-like person login (under /idporten/) for the portal "
            "client in KJR_PORTAL__CLIENT_ID / KJR_PORTAL__CLIENT_SECRET, with the synthetic "
            "demo persons.",
        ),
    ] = False,
) -> None:
    """Serve /.well-known/oauth-authorization-server, /jwk and /token."""

    from kjoretoyregister.logs import get_logger
    from kjoretoyregister.maskinporten.app import create_app
    from kjoretoyregister.maskinporten.idporten import OidcClient
    from kjoretoyregister.maskinporten.replay import RedisReplay
    from kjoretoyregister.portal.demo_seed import DEMO_PERSONS

    settings = _settings(
        state_dir, host=host, port=port, public_url=public_url, token_lifetime_s=token_lifetime_s
    )
    mp = settings.maskinporten
    state = MaskinportenState.open(_state_dir(settings), key_overlap_s=mp.key_overlap_s)
    clients: list[OidcClient] = []
    if idporten:
        portal = settings.portal
        secret = portal.client_secret.get_secret_value()
        if not secret:
            typer.echo(
                "error: --idporten needs KJR_PORTAL__CLIENT_SECRET (shared with the portal)",
                err=True,
            )
            raise typer.Exit(2)
        # An exact redirect URI when one is configured (as ID-porten requires); otherwise any
        # loopback port, which is all a local stand-in can be reached from anyway.
        clients.append(
            OidcClient(portal.client_id, secret, redirect_uris=(portal.redirect_uri,))
            if portal.redirect_uri
            else OidcClient(portal.client_id, secret, redirect_uri_prefixes=("http://127.0.0.1:",))
        )
    replay = RedisReplay(mp.redis_url, mp.redis_prefix) if mp.redis_url else None
    application = create_app(
        state,
        issuer=mp.public_url,
        token_lifetime_s=mp.token_lifetime_s,
        idporten_clients=clients,
        idporten_persons=DEMO_PERSONS,
        replay=replay,
    )
    get_logger(__name__).info(
        "maskinporten stand-in listening",
        url=f"http://{mp.host}:{mp.port}/",
        issuer=mp.public_url or "derived from each request",
        replay_memory="redis" if mp.redis_url else "process",
        state_dir=str(state.state_dir),
    )
    serve_or_exit(application, settings, host=mp.host, port=mp.port)


# -- clients ----------------------------------------------------------------------------------
@client_app.command("register")
def client_register(
    client_id: Annotated[str, typer.Option("--client-id", help="The client id (the grant's iss).")],
    orgnr: Annotated[str, typer.Option("--orgnr", help="Owner organisation number.")],
    scope: Annotated[
        list[str] | None,
        typer.Option(
            "--scope", help="Scope the client may ask for; repeat for more (default ks:fiks)."
        ),
    ] = None,
    public_key: Annotated[
        Path | None, typer.Option("--public-key", help="PEM public key to register for kid grants.")
    ] = None,
    certificate: Annotated[
        Path | None,
        typer.Option(
            "--certificate", help="PEM certificate whose key is registered for kid grants."
        ),
    ] = None,
    generate_key: Annotated[
        Path | None,
        typer.Option(
            "--generate-key", help="Create a key pair: write the private key here (0600)."
        ),
    ] = None,
    kid: Annotated[
        str | None, typer.Option("--kid", help="Key id; default the JWK thumbprint.")
    ] = None,
    state_dir: StateDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Register a client (or update its scopes / add a key).

    Without a key option the client can still authenticate with a virksomhetssertifikat
    (x5c) from the test CA whose orgnr is the client's.
    """
    scope = scope or [DEFAULT_SCOPE]
    if sum(x is not None for x in (public_key, certificate, generate_key)) > 1:
        raise _fail("give at most one of --public-key, --certificate and --generate-key")
    if generate_key is not None and generate_key.exists():
        raise _fail(f"{generate_key} exists; choose another file")
    state = _open(state_dir)
    try:
        public_pem = public_key.read_bytes() if public_key else None
        cert_pem = certificate.read_bytes() if certificate else None
        private = keys.new_rsa_key() if generate_key is not None else None
        if private is not None:
            public_pem = keys.public_pem(private.public_key())
        registered = state.register_client(
            client_id, orgnr, scope, public_key_pem=public_pem, kid=kid, certificate_pem=cert_pem
        )
        if private is not None and generate_key is not None:
            keys.write_secret(generate_key, keys.private_pem(private))
    except (ValueError, OSError) as exc:
        raise _fail(str(exc)) from None
    scopes = list(dict.fromkeys(scope))
    data = {
        "client_id": client_id,
        "orgnr": orgnr,
        "scopes": scopes,
        "kid": registered,
        "private_key": str(generate_key) if generate_key else None,
    }
    text = f"client {client_id} registered for {orgnr} with scopes {' '.join(scopes)}"
    if registered:
        text += f"\nkid: {registered}"
    if generate_key:
        text += f"\nprivate key: {generate_key}"
    _print(data, as_json, text)


@client_app.command("list")
def client_list(state_dir: StateDirOption = None, as_json: JsonOption = False) -> None:
    """List registered clients with their scopes and keys."""
    state = _open(state_dir)
    clients = list(state.clients.values())
    lines = [
        f"{c.client_id}  orgnr {c.orgnr}  scopes {' '.join(c.scopes)}  "
        f"kids {', '.join(k.kid for k in c.keys) or '-'}"
        for c in clients
    ]
    rows = [
        {
            "client_id": c.client_id,
            "orgnr": c.orgnr,
            "scopes": list(c.scopes),
            "keys": [
                {
                    "kid": k.kid,
                    "certificate": k.certificate_pem is not None,
                    "expires_at": _iso(k.expires_at),
                }
                for k in c.keys
            ],
        }
        for c in clients
    ]
    _print(rows, as_json, "\n".join(lines) or "no clients")


# -- delegations ------------------------------------------------------------------------------
@delegation_app.command("add")
def delegation_add(
    client: Annotated[str, typer.Option("--client", help="Client id of the supplier.")],
    consumer_orgnr: Annotated[str, typer.Option("--consumer-orgnr", help="The delegating org.")],
    scope: Annotated[
        list[str] | None,
        typer.Option("--scope", help="Delegated scope; repeatable (default ks:fiks)."),
    ] = None,
    source: Annotated[
        str, typer.Option("--source", help="delegation_source put in tokens.")
    ] = DEFAULT_DELEGATION_SOURCE,
    state_dir: StateDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Let CONSUMER_ORGNR delegate scopes to the client's owner (consumer_org in grants)."""
    scope = scope or [DEFAULT_SCOPE]
    state = _open(state_dir)
    try:
        record = state.add_delegation(client, consumer_orgnr, scope, source=source)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    _print(
        record.to_json(),
        as_json,
        f"{consumer_orgnr} delegates {' '.join(record.scopes)} to client {client}",
    )


@delegation_app.command("list")
def delegation_list(state_dir: StateDirOption = None, as_json: JsonOption = False) -> None:
    """List delegations."""
    rows = [d.to_json() for d in _open(state_dir).delegations]
    lines = [
        f"{r['consumer_orgnr']} → {r['client_id']}  {' '.join(r['scopes'])}  ({r['source']})"
        for r in rows
    ]
    _print(rows, as_json, "\n".join(lines) or "no delegations")


@delegation_app.command("remove")
def delegation_remove(
    client: Annotated[str, typer.Option("--client", help="Client id of the supplier.")],
    consumer_orgnr: Annotated[str, typer.Option("--consumer-orgnr", help="The delegating org.")],
    state_dir: StateDirOption = None,
) -> None:
    """Remove a delegation."""
    if not _open(state_dir).remove_delegation(client, consumer_orgnr):
        raise _fail("no such delegation")
    typer.echo("delegation removed")


# -- CA and certificates ----------------------------------------------------------------------
@ca_app.command("create")
def ca_create(
    name: Annotated[
        str, typer.Option("--name", help="CA common name.")
    ] = "Kjoretoyregister Test CA",
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace an existing CA (its certificates stop working)."),
    ] = False,
    state_dir: StateDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create the test CA that x5c chains are validated against."""
    state = _open(state_dir)
    try:
        cert = state.create_ca(name=name, overwrite=force)
    except FileExistsError as exc:
        raise _fail(f"{exc} (use --force to replace it)") from None
    data = {
        "certificate": str(state.ca_cert_path),
        "subject": cert.subject.rfc4514_string(),
        "not_after": cert.not_valid_after_utc.isoformat(),
    }
    _print(data, as_json, f"test CA created: {state.ca_cert_path}")


@cert_app.command("issue")
def cert_issue(
    orgnr: Annotated[str, typer.Option("--orgnr", help="Organisation number in the certificate.")],
    out_key: Annotated[
        Path, typer.Option("--out-key", help="Write the new private key here (0600).")
    ],
    out_cert: Annotated[Path, typer.Option("--out-cert", help="Write the certificate (PEM) here.")],
    name: Annotated[
        str | None, typer.Option("--name", help="Organisation name in the subject.")
    ] = None,
    days: Annotated[int, typer.Option("--days", min=1, help="Validity in days.")] = 365,
    state_dir: StateDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Issue a virksomhetssertifikat (serialNumber + organizationIdentifier NTRNO-orgnr)."""
    state = _open(state_dir)
    private = keys.new_rsa_key()
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    try:
        cert = state.issue_certificate(
            orgnr,
            private.public_key(),
            name=name,
            not_before=start,
            not_after=start + dt.timedelta(days=days),
        )
        keys.write_secret(out_key, keys.private_pem(private))
        out_cert.write_bytes(certs.cert_pem(cert))
    except FileExistsError:
        raise _fail(f"{out_key} exists; choose another file") from None
    except (ValueError, LookupError, OSError) as exc:
        raise _fail(str(exc)) from None
    data = {
        "orgnr": orgnr,
        "key": str(out_key),
        "certificate": str(out_cert),
        "subject": cert.subject.rfc4514_string(),
        "not_after": cert.not_valid_after_utc.isoformat(),
    }
    _print(data, as_json, f"certificate for {orgnr}: {out_cert} (key {out_key})")


# -- signing keys -----------------------------------------------------------------------------
@key_app.command("rotate")
def key_rotate(
    overlap_s: Annotated[
        int | None,
        typer.Option(
            "--overlap-s", min=0, help="How long the old key stays in /jwk (default setting)."
        ),
    ] = None,
    state_dir: StateDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Make a new signing key active; the old one stays published for the overlap."""
    kid = _open(state_dir).rotate_signing_key(overlap_s=overlap_s)
    _print({"kid": kid}, as_json, f"new signing key: {kid}")


@key_app.command("list")
def key_list(state_dir: StateDirOption = None, as_json: JsonOption = False) -> None:
    """List the signing keys /jwk publishes."""
    state = _open(state_dir)
    active = state.signing_key.kid
    rows = [
        {
            "kid": k.kid,
            "active": k.kid == active,
            "created_at": _iso(k.created_at),
            "publish_until": _iso(k.publish_until),
        }
        for k in state.published_keys()
    ]
    lines = [
        f"{r['kid']}  {'active' if r['active'] else 'published until ' + str(r['publish_until'])}"
        for r in rows
    ]
    _print(rows, as_json, "\n".join(lines))
