"""The one settings object for every part of kjoretoyregister.

Values come from, in order of precedence: explicit keyword arguments (the CLI passes its
flags this way), environment variables with the ``KJR_`` prefix (nested sections use ``__``,
e.g. ``KJR_SVV__MAX_BULK_ITEMS=500``), a TOML file named by ``KJR_CONFIG_FILE``, and the
defaults below. Settings are validated once at start-up; a bad value stops the program with a
message naming the variable. Nothing else in the package reads ``os.environ``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from kjoretoyregister.config_sections import (
    AuditSettings,
    GatewaySettings,
    HttpSettings,
    KonfigSettings,
    MaskinportenSettings,
    PortalSettings,
    SvvSettings,
)

ENV_PREFIX = "KJR_"
CONFIG_FILE_ENV = "KJR_CONFIG_FILE"


__all__ = [
    "AuditSettings",
    "ConfigError",
    "GatewaySettings",
    "HttpSettings",
    "KonfigSettings",
    "MaskinportenSettings",
    "PortalSettings",
    "Settings",
    "SvvSettings",
    "load_settings",
]


DATABASE_FORMS = "sqlite:///PATH/FILE.db or postgresql+psycopg://USER@HOST:PORT/DB"


def checked_database_url(value: str) -> str:
    """A database URL the package can open, or ValueError saying which forms are valid.

    ``postgresql://`` (SQLAlchemy would pick psycopg2, which is not installed) becomes
    ``postgresql+psycopg://``; an SQLite file's folder must exist, so that a typo does not
    create folders somewhere on the disk.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(value)
    except ArgumentError:
        raise ValueError(f"not a database URL; valid forms: {DATABASE_FORMS}") from None
    # From the name alone: asking SQLAlchemy for the driver would import it (or fail to).
    backend, _, driver = url.drivername.partition("+")
    if backend in {"postgresql", "postgres"} and driver in {"", "psycopg"}:
        return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if backend == "sqlite" and driver in {"", "pysqlite"}:
        database = url.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            folder = Path(database).expanduser().absolute().parent
            if not folder.is_dir():
                raise ValueError(f"folder {folder} does not exist; create it first")
        return value
    raise ValueError(f"unsupported database {url.drivername!r}; valid forms: {DATABASE_FORMS}")


class Settings(BaseSettings):
    """Every setting of every part. Build it with :func:`load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        frozen=True,
        extra="forbid",
    )

    data_dir: Path = Field(Path(".kjr"), description="Where generated state lives")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default sqlite file in data_dir"
    )
    log_level: str = "INFO"
    log_json: bool = False
    profile: Path | None = Field(
        None, description="Client profile JSON (written by `demo --profile`) for oppslag/sok"
    )
    audit_secret: SecretStr | None = Field(
        None, description="HMAC key for audit pseudonyms; generated into data_dir if unset"
    )
    svv: SvvSettings = SvvSettings()
    maskinporten: MaskinportenSettings = MaskinportenSettings()
    gateway: GatewaySettings = GatewaySettings()
    audit: AuditSettings = AuditSettings()
    konfig: KonfigSettings = KonfigSettings()
    portal: PortalSettings = PortalSettings()
    http: HttpSettings = HttpSettings()

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        return None if value is None else checked_database_url(value)

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'kjoretoyregister.db').resolve()}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_path = os.environ.get(CONFIG_FILE_ENV)
        if toml_path:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(toml_path)))
        return tuple(sources)


class ConfigError(ValueError):
    """Settings failed validation; the message names each bad setting and why."""


def _describe(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        dotted = ".".join(str(p) for p in err["loc"])
        env_name = ENV_PREFIX + "__".join(str(p) for p in err["loc"]).upper()
        # pydantic prefixes our own ValueError messages with "Value error, "; the user needs
        # only the message.
        msg = err["msg"].removeprefix("Value error, ")
        lines.append(f"{dotted} (env {env_name}): {msg}")
    if len(lines) == 1:
        return f"invalid configuration: {lines[0]}"
    return "invalid configuration:\n" + "\n".join(f"  {line}" for line in lines)


def load_settings(**overrides: Any) -> Settings:
    """Build and validate the settings; raise :class:`ConfigError` with a readable message.

    Args:
        overrides: values that win over environment and file, e.g. from CLI flags. Nested
            sections may be given as dicts; they are merged with what the environment says.
    """
    _reject_unknown_env()
    toml_path = os.environ.get(CONFIG_FILE_ENV)
    if toml_path and not Path(toml_path).is_file():
        raise ConfigError(f"invalid configuration: {CONFIG_FILE_ENV}={toml_path} is not a file")
    try:
        base = Settings()
        if not overrides:
            return base
        merged = base.model_dump()
        for key, value in overrides.items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
        return Settings.model_validate(_unmask(merged))
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None


def _reject_unknown_env() -> None:
    """A misspelt ``KJR_`` variable would otherwise be ignored silently; refuse it instead."""
    known = {CONFIG_FILE_ENV, "KJR_PROFILE"}
    for name, field in Settings.model_fields.items():
        known.add(ENV_PREFIX + name.upper())
        section = field.annotation
        if isinstance(section, type) and issubclass(section, BaseModel):
            known.update(
                f"{ENV_PREFIX}{name.upper()}__{sub.upper()}" for sub in section.model_fields
            )
    unknown = sorted(k for k in os.environ if k.startswith(ENV_PREFIX) and k not in known)
    if unknown:
        raise ConfigError(
            "invalid configuration:\n" + "\n".join(f"  {k}: not a known setting" for k in unknown)
        )


def _unmask(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, dict):
        return {k: _unmask(v) for k, v in value.items()}
    return value
