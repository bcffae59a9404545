"""The sections of the settings object: one pydantic model per part of kjoretoyregister.

:class:`kjoretoyregister.config.Settings` holds one of each; import them from there. Every
field is a setting (``KJR_<SECTION>__<FIELD>``) and its description is its help text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    IPvAnyAddress,
    SecretStr,
    field_validator,
    model_validator,
)


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SvvSettings(_Section):
    """The SVV simulator (``kjoretoyregister svv …``)."""

    data: Path | None = Field(None, description="Register file made by `svv generate`")
    host: str = "127.0.0.1"
    port: int = Field(8081, ge=0, le=65535)
    # SecretStr so that a printed Settings never shows the passwords; in the environment the
    # list is JSON: KJR_SVV__USERS='["fiks:hemmelig:KJORETOYOPPSLAG,KJORETOYSOK"]'.
    users: list[SecretStr] = Field(
        default_factory=list,
        description="Basic-auth users as NAME:PASSWORD[:ROLE,ROLE]; roles default to all",
    )
    realm: str = Field("Statens vegvesen", min_length=1, description="Basic-auth realm")
    max_bulk_items: int = Field(1000, ge=1, le=100_000)
    max_body_bytes: int = Field(1_048_576, ge=1024, description="Larger request bodies get 413")
    max_antall: int = Field(100, ge=1, le=10_000)
    default_antall: int = Field(20, ge=1, le=10_000)
    lookup_threads: int = Field(
        4, ge=0, le=64, description="Threads for register lookups; 0 = on the event loop"
    )
    lookup_processes: int | None = Field(
        None,
        ge=0,
        le=64,
        description="Processes that share big bulk lookups; None = one per core for a "
        "register of 500,000 vehicles or more, else 0",
    )
    latency_ms: float = Field(0.0, ge=0, description="Added latency per request")
    fault_rate: float = Field(0.0, ge=0, le=1, description="Share of requests answered with 500")
    outage: bool = Field(False, description="Answer every request with 503")
    quota_exceeded: bool = Field(
        False, description="Answer bulk requests with 422 + Retry-After (akfell's daily quota)"
    )
    # -- the akfell profile (akfell-datautlevering, SVV's current API; svv/akfell) ----------
    api: Literal["v2", "akfell", "both"] = Field(
        "v2", description="Which API generation to serve: v2 (default), akfell, or both"
    )
    akfell_issuer: str = Field(
        "http://127.0.0.1:8082/", description="akfell: the trusted Maskinporten issuer (iss)"
    )
    akfell_jwks_url: str | None = Field(
        None, description="akfell: the issuer's JWKS URL; None = from its well-known document"
    )
    akfell_scope: str = Field(
        "svv:kjoretoy/kjoretoyopplysninger", min_length=1, description="akfell: required scope"
    )
    akfell_audience: str | None = Field(
        None, description="akfell: an accepted aud besides absent/'unspecified' (the resource)"
    )
    akfell_daily_quota: int = Field(
        5000, ge=0, description="akfell: vehicles per Maskinporten client per day (Oslo time)"
    )
    akfell_max_treff: int = Field(
        1000, ge=1, description="akfell: most vehicles one person lookup may find (400 above)"
    )
    akfell_default_antall: int = Field(100, ge=1, description="akfell: organisasjon page size")
    akfell_max_antall: int = Field(
        1000, ge=1, description="akfell: largest organisasjon antall (400 above)"
    )
    akfell_api_keys: list[SecretStr] = Field(
        default_factory=list,
        description="akfell: enkeltoppslag API keys (SVV-Authorization: Apikey KEY); a "
        "Maskinporten token with the scope is accepted too",
    )
    akfell_leeway_s: int = Field(10, ge=0, le=300, description="akfell: token clock leeway")


class MaskinportenSettings(_Section):
    """The Maskinporten stand-in (``kjoretoyregister maskinporten …``)."""

    host: str = "127.0.0.1"
    port: int = Field(8082, ge=0, le=65535)
    state_dir: Path | None = Field(None, description="Keys, clients, CA; default <data_dir>/mp")
    public_url: str | None = Field(None, description="Issuer base URL if not http://host:port/")
    token_lifetime_s: int = Field(120, ge=1, le=86_400)
    key_overlap_s: int = Field(86_400, ge=0, description="How long a rotated key stays in /jwk")
    redis_url: str | None = Field(
        None,
        description="Shared jti replay memory for several instances (redis://…); "
        "None = this process only",
    )
    redis_prefix: str = Field("kjr", min_length=1, description="Key prefix in Redis")


class GatewaySettings(_Section):
    """The gateway (``kjoretoyregister gateway serve``)."""

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    svv_url: str = Field(
        "http://127.0.0.1:8081/ws/no/vegvesen/kjoretoy/felles/v2",
        description="SVV base URL up to and including /felles/v2",
    )
    svv_user: str = "fiks"
    svv_password: SecretStr = SecretStr("")
    maskinporten_issuer: str = Field("http://127.0.0.1:8082/", description="Trusted issuer")
    resource: str | None = Field(None, description="Our own audience, if tokens are restricted")
    jwks_cache_s: int = Field(86_400, ge=1)
    jwks_min_refetch_s: int = Field(60, ge=0, description="Unknown kid refetch at most this often")
    leeway_s: int = Field(10, ge=0, le=300)
    max_bulk_items: int = Field(1000, ge=1)
    max_body_bytes: int = Field(1_048_576, ge=1)
    connect_timeout_s: float = Field(2.0, gt=0)
    read_timeout_s: float = Field(30.0, gt=0)
    deadline_s: float = Field(35.0, gt=0, description="End-to-end deadline for one request")
    pool_size: int = Field(100, ge=1)
    # -- production (issue 9): limits, resilience, operations; see docs/deployment.md --------
    redis_url: str | None = Field(
        None, description="Shared rate-limit store (redis://…); None = in-process limits only"
    )
    redis_prefix: str = Field("kjr", min_length=1, description="Key prefix in Redis")
    rate_org_per_s: int = Field(0, ge=0, description="Requests/s per Fiks org; 0 = no limit")
    rate_integration_per_s: int = Field(0, ge=0, description="Requests/s per integration; 0 = off")
    quota_org_items_per_day: int = Field(0, ge=0, description="Items/day per org; 0 = no quota")
    quota_integration_items_per_day: int = Field(
        0, ge=0, description="Items/day per integration; 0 = no quota"
    )
    breaker_failures: int = Field(5, ge=1, description="Consecutive SVV failures that open it")
    breaker_cooldown_s: float = Field(5.0, gt=0, description="Open this long before a probe")
    get_retries: int = Field(2, ge=0, le=5, description="Extra attempts for idempotent GETs")
    max_in_flight: int = Field(256, ge=1, description="API requests at once before shedding 503")
    maintenance: bool = Field(False, description="Start in maintenance mode (API and ready 503)")
    switch_poll_s: float = Field(
        0.5,
        gt=0,
        le=10,
        description="With redis_url: how often each instance reads the shared operator "
        "switches (maintenance)",
    )
    admin_token: SecretStr | None = Field(
        None, description="Bearer token for /gateway/admin/maintenance (≥ 16 chars); None = off"
    )
    health_cache_s: float = Field(2.0, ge=0, description="Readiness results are reused this long")
    authz_cache_s: float = Field(
        10.0,
        ge=0,
        le=60,
        description="Remember OK authorization decisions this long (0 = off); Konfigurasjon "
        "changes drop them at once in this process and within authz_invalidation_poll_s elsewhere",
    )
    authz_invalidation_poll_s: float = Field(
        1.0, gt=0, description="How often the decision cache polls for Konfigurasjon changes"
    )
    tracing: bool = Field(False, description="OpenTelemetry spans (needs the otel extra)")


class KonfigSettings(_Section):
    """Fiks Konfigurasjon: the admin REST API and the gateway's authorization cache."""

    host: str = "127.0.0.1"
    port: int = Field(8083, ge=0, le=65535, description="`admin serve` listens here")
    # SecretStr so a printed Settings never shows them; in the environment the list is JSON:
    # KJR_KONFIG__ADMIN_TOKENS='["alice:a-long-random-token"]'. The name is the actor that the
    # admin-action log records; the token is what the caller sends as `Authorization: Bearer`.
    admin_tokens: list[SecretStr] = Field(
        default_factory=list,
        description="Admin API bearer tokens as NAME:TOKEN (token ≥ 16 characters)",
    )
    auth_cache_ttl_s: float = Field(
        30.0, ge=0, le=3600, description="How long a verified integration password is trusted"
    )
    auth_negative_ttl_s: float = Field(
        5.0, ge=0, le=600, description="How long a failed password check is remembered"
    )
    auth_cache_secret: SecretStr | None = Field(
        None, description="HMAC key for the authorization cache; random per process if unset"
    )

    @field_validator("admin_tokens")
    @classmethod
    def _name_and_long_token(cls, value: list[SecretStr]) -> list[SecretStr]:
        for item in value:
            name, sep, token = item.get_secret_value().partition(":")
            if not sep or not name.strip() or len(token) < 16:
                raise ValueError("each admin token must be NAME:TOKEN with a token ≥ 16 chars")
        return value


class AuditSettings(_Section):
    """The audit log (``kjoretoyregister audit …`` and the gateway's durable sink)."""

    retention_days: int = Field(365, ge=1, description="`audit purge` removes older records")
    checkpoint_interval_s: float = Field(
        3600.0, ge=0, description="Seconds between periodic chain checkpoints; 0 = none"
    )
    queue_size: int = Field(10_000, ge=1, description="Events waiting for the writer at most")
    batch_max: int = Field(512, ge=1, le=100_000, description="Most events in one commit")
    sqlite_wal_checkpoint_interval_s: float = Field(
        1.0,
        ge=0,
        le=3600,
        description="SQLite: checkpoint the audit WAL this often in a thread of its own, not "
        "inside a commit that requests wait for (0 = SQLite's own, in the commit)",
    )
    subject_index_interval_s: float = Field(
        0.5,
        ge=0,
        le=3600,
        description="Index the audit's subject pseudonyms after commits at least this often "
        "(sooner after a bulk answer); 0 = not in this process (readers scan the rest)",
    )
    # SecretStr so a printed Settings never shows them; in the environment the list is JSON:
    # KJR_AUDIT__ORG_ADMIN_TOKENS='["<fiksOrgId>:kari:a-long-random-token"]'.
    org_admin_tokens: list[SecretStr] = Field(
        default_factory=list,
        description="Audit admin API tokens as FIKSORGID:NAME:TOKEN (that org only)",
    )

    @field_validator("org_admin_tokens")
    @classmethod
    def _org_name_and_long_token(cls, value: list[SecretStr]) -> list[SecretStr]:
        for item in value:
            org, _, rest = item.get_secret_value().partition(":")
            name, sep, token = rest.partition(":")
            if not org or not name or not sep or len(token) < 16:
                raise ValueError("each org admin token must be FIKSORGID:NAME:TOKEN (≥ 16 chars)")
        return value

    # Anchors (signed head checkpoints, see audit/anchors.py). The private key is read from a
    # file or a secret setting only, never stored in the database: database write access
    # must not be enough to sign an anchor.
    anchor_key_file: Path | None = Field(
        None, description="Ed25519 private key (PEM) that signs anchors"
    )
    anchor_key: SecretStr | None = Field(
        None, description="The anchor private key itself: PEM, or base64 of the PEM"
    )
    anchor_file: Path | None = Field(
        None, description="JSON Lines file the gateway appends a signed anchor to"
    )
    anchor_interval_s: float = Field(
        300.0, ge=0, description="Seconds between the gateway's anchors after commits; 0 = none"
    )
    anchor_public_keys: list[str] = Field(
        default_factory=list,
        description="Older public keys (PEM, base64 of PEM, or a file) still accepted by "
        "`audit verify --anchors` after a key rotation",
    )

    @model_validator(mode="after")
    def _one_anchor_key(self) -> AuditSettings:
        if self.anchor_key_file is not None and self.anchor_key is not None:
            raise ValueError("set anchor_key_file or anchor_key, not both")
        return self


class PortalSettings(_Section):
    """The web portal for municipal employees and administrators (``/portal/``)."""

    host: str = "127.0.0.1"
    port: int = Field(8084, ge=0, le=65535, description="`portal serve` listens here")

    # OpenID Connect relying party. The demo points it at the ID-porten-like stand-in that the
    # Maskinporten stand-in serves under /idporten/; in production it is ID-porten.
    issuer_url: str = Field(
        "http://127.0.0.1:8082/idporten/",
        description="OIDC issuer; discovery at <issuer>/.well-known/openid-configuration",
    )
    client_id: str = Field("kjoretoyregister-portal", min_length=1)
    client_secret: SecretStr = SecretStr("")
    redirect_uri: str | None = Field(
        None, description="Registered callback URL; None = <this request's base>/portal/callback"
    )
    acr_values: str = Field("idporten-loa-substantial", description="Asked-for level of assurance")
    cookie_secure: bool = Field(
        True, description="Send the session cookie only over https (turn off for the http demo)"
    )
    idle_timeout_s: int = Field(1800, ge=1, description="Log out after this long without a request")
    absolute_timeout_s: int = Field(
        8 * 3600, ge=1, description="Log out this long after login regardless of activity"
    )
    page_size: int = Field(20, ge=1, le=100, description="Hits per page in owner searches")
    redis_url: str | None = Field(
        None,
        description="Sessions (with CSRF and OIDC login state) and login rate-limit counters "
        "in Redis, shared by every portal instance (redis://…); None = sessions in the "
        "database (still shared), login counters in this process",
    )
    redis_prefix: str = Field("kjr", min_length=1, description="Key prefix in Redis")
    login_limit_window_s: int = Field(
        60, ge=1, le=86_400, description="Window of the login rate limits, in seconds"
    )
    login_limit_per_ip: int = Field(
        60,
        ge=0,
        description="Login requests (start + return from ID-porten) per client address and "
        "window; 0 = off. One login is two requests; offices behind one NAT share it",
    )
    login_limit_per_person: int = Field(
        10, ge=0, description="Completed logins per person (keyed hash of the pid) and window"
    )
    trusted_proxies: list[IPvAnyAddress] = Field(
        default_factory=list,
        description="Addresses of the reverse proxies in front; from these the client "
        "address is the last X-Forwarded-For entry (else the peer address counts)",
    )


class HttpSettings(_Section):
    """Edge limits shared by every server we run (gateway, portal, admin APIs, stand-ins)."""

    header_timeout_s: float = Field(
        10.0, gt=0, le=300, description="Close a connection whose request head takes longer"
    )
    body_timeout_s: float = Field(
        10.0, gt=0, le=600, description="Answer 408 when a request body takes longer to arrive"
    )
    max_connections_per_client: int = Field(
        256,
        ge=0,
        description="Open connections allowed per client address (0 = no limit; behind a "
        "proxy every client shares its address, so limit there instead)",
    )
