"""All configuration of civicdesk: one pydantic-settings class, read from `CIVICDESK_*` variables and `.env`.

Every process (web app, ingester, the launchers of Rasa and the action server) reads the same class, so a value
is set in one place. README's settings table lists these fields; `tests/app/kernel/test_settings.py` keeps them in step.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from civicdesk.errors import UserError

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Development-only secrets: usable on a developer's machine, refused everywhere else.
DEV_SECRET_KEY = "dev-only-secret-key-not-for-production-use"
DEV_ACTIONS_TOKEN = "dev-only-actions-token-not-for-production"

SUPPORTED_DATABASE_SCHEMES = ("sqlite", "postgresql", "postgresql+psycopg")


class ImapMailbox(BaseModel):
    """One more mailbox on the IMAP server (a department's own address), read like the main one."""

    username: str = Field(min_length=1)
    password: SecretStr = Field(min_length=1)
    folder: str = "INBOX"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CIVICDESK_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    env: Literal["development", "test", "production"] = Field(
        "development", description="development, test or production; production refuses development secrets."
    )
    var_dir: Path = Field(PROJECT_ROOT / "var", description="Folder for the SQLite file, models and mail drop.")
    database_url: str = Field(
        "", description="SQLAlchemy URL; empty means a SQLite file `civicdesk.db` in the var folder."
    )
    models_dir: Path = Field(PROJECT_ROOT / "var" / "models", description="Trained assistant and triage models.")
    host: str = Field("127.0.0.1", description="Address the core web app listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port of the core web app.")
    secret_key: SecretStr = Field(
        SecretStr(DEV_SECRET_KEY),
        description="Signs console sessions; at least 32 characters outside development.",
    )
    actions_token: SecretStr = Field(
        SecretStr(DEV_ACTIONS_TOKEN),
        description="Service token the action server sends to the core API; 32+ characters outside development.",
    )
    rasa_url: str = Field("http://127.0.0.1:5005", description="Rasa server (loopback only; the gateway calls it).")
    action_server_url: str = Field("http://127.0.0.1:5055", description="Rasa action server.")
    core_url: str = Field("", description="URL the action server uses to reach the core; empty: http://host:port.")
    engine_venv: Path = Field(PROJECT_ROOT / "bot" / ".venv", description="Python 3.10 environment holding Rasa.")
    tracker_db: Path | None = Field(
        None, description="SQLite file where Rasa keeps conversation trackers; empty: var/rasa-trackers.db."
    )
    rasa_tracker_url: str = Field(
        "",
        description="PostgreSQL database where Rasa keeps conversation trackers, shared by several Rasa servers "
        "(postgresql://USER:PASSWORD@HOST:PORT/DB); empty: the SQLite file `tracker_db`.",
    )
    retention_days: dict[str, int] = Field(
        default_factory=dict,
        description='Retention schedule overrides in days, as JSON, e.g. {"chat_transcripts": 1095} '
        "(`civicdesk retention schedule` lists the record types).",
    )
    maildir: Path | None = Field(None, description="Maildir drop folder the ingester reads; empty: var/mail/inbox.")
    imap_host: str = Field("", description="IMAP server of the centre's mailbox; empty: read the Maildir drop folder.")
    imap_port: int | None = Field(None, ge=1, le=65535, description="IMAP port; empty: 993 for tls, 143 otherwise.")
    imap_security: Literal["tls", "starttls", "plain"] = Field(
        "tls", description="tls, starttls, or plain (plain only to a loopback server)."
    )
    imap_username: str = Field("", description="IMAP login.")
    imap_password: SecretStr = Field(SecretStr(""), description="IMAP password.")
    imap_folder: str = Field("INBOX", description="Folder the ingester reads.")
    imap_processed_folder: str = Field("Processed", description="Folder stored messages are moved to.")
    imap_quarantine_folder: str = Field("Quarantine", description="Folder unreadable or oversize messages go to.")
    imap_more_mailboxes: list[ImapMailbox] = Field(
        default_factory=list,
        description='More mailboxes on the same IMAP server, as JSON: [{"username": "roads", "password": "...", '
        '"folder": "INBOX"}]. Each is read by one ingester at a time, like the main one.',
    )
    imap_timeout_seconds: float = Field(60.0, gt=0, description="Seconds before a silent IMAP server is given up.")
    imap_ca_file: Path | None = Field(None, description="CA certificates to trust for IMAP; empty: the system's.")
    ingest_poll_seconds: float = Field(30.0, gt=0, description="Seconds between mailbox polls.")
    max_message_bytes: int = Field(
        25 * 1024 * 1024, gt=0, description="Larger messages are quarantined, not downloaded."
    )
    max_attachment_bytes: int = Field(
        10 * 1024 * 1024, ge=0, description="Attachments up to this size are stored; larger ones are listed only."
    )
    ingest_lease_seconds: float = Field(
        120.0, gt=0, description="How long a stopped ingester keeps the mailbox before another may read it."
    )
    ingest_alert_after_failures: int = Field(
        5, ge=1, description="Consecutive failed mailbox passes before the ingester raises an alert."
    )
    ingest_metrics_port: int | None = Field(
        None, ge=1, le=65535, description="Loopback port where the ingester serves /metrics; empty: none."
    )
    public_base_url: str = Field(
        "http://127.0.0.1:8000",
        description="Where residents reach the core web app: links in email (stopping request updates) start here.",
    )
    mail_from: str = Field(
        "Northvale Service First <servicefirst@northvale.ca>", description="From: of acknowledgements and notices."
    )
    smtp_host: str = Field(
        "", description="SMTP relay for outgoing mail; empty: nothing is sent, it waits in the outbox."
    )
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP relay port.")
    smtp_security: Literal["tls", "starttls", "plain"] = Field(
        "starttls", description="SMTP transport security; plain only to a loopback relay."
    )
    smtp_username: str = Field("", description="SMTP login; empty: no login.")
    smtp_password: SecretStr = Field(SecretStr(""), description="SMTP password.")
    ack_limit_per_hour: int = Field(
        3, ge=0, description="Most acknowledgements one sender gets per hour (stops mail loops)."
    )
    oncall_email: str = Field("", description="Address notified at once of emergencies; empty: the department's.")
    oncall_webhook_url: str = Field("", description="Webhook POSTed a JSON notice of each emergency; empty: none.")
    redis_url: str = Field(
        "", description="Redis that web workers share (chat fan-out, chat rate limits); empty: none."
    )
    chat_poll_seconds: float = Field(
        0.5, gt=0, le=10, description="How often chat sockets look for messages written by other web workers."
    )
    chat_agent_wait_seconds: float = Field(
        300.0, gt=0, description="Seconds in the agent queue before a resident is offered a callback or a message."
    )
    chat_messages_per_minute: int = Field(
        20, ge=1, description="Most messages one conversation may take a minute (a person types a few)."
    )
    chat_messages_per_address_per_minute: int = Field(
        60, ge=1, description="Most chat messages one client address may send a minute, all its conversations."
    )
    chat_conversations_per_address_per_minute: int = Field(
        10, ge=1, description="Most new chat conversations one client address may start a minute."
    )
    console_session_hours: float = Field(10.0, gt=0, le=24, description="Lifetime of an agent console sign-in.")
    cookie_secure: bool | None = Field(
        None, description="Mark console cookies Secure (HTTPS only); empty: everywhere except development."
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated addresses or networks of the reverse proxies whose X-Forwarded-For and "
        "X-Forwarded-Proto are believed; empty: none, the peer's address is the client's.",
    )
    api_docs: bool | None = Field(
        None, description="Serve /docs, /redoc and /openapi.json; empty: everywhere except production."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Logging level.")

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, url: str) -> str:
        if not url:
            return url
        scheme = urlsplit(url).scheme
        if scheme not in SUPPORTED_DATABASE_SCHEMES:
            raise ValueError(
                f"unsupported database URL scheme {scheme!r}; use one of: {', '.join(SUPPORTED_DATABASE_SCHEMES)}"
            )
        return url

    @field_validator("rasa_tracker_url")
    @classmethod
    def _postgresql_trackers(cls, url: str) -> str:
        parts = urlsplit(url)
        if url and (parts.scheme not in ("postgresql", "postgresql+psycopg") or not parts.hostname):
            raise ValueError("give a PostgreSQL URL, e.g. postgresql://rasa:PASSWORD@db.internal:5432/rasa")
        return url

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_addresses(cls, value: object) -> object:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list):
            return value  # pydantic names the wrong type
        proxies = []
        for item in filter(None, (str(part).strip() for part in items)):
            try:  # strict: "10.0.0.1/8" is refused here rather than silently never matching in uvicorn
                proxies.append(str(ipaddress.ip_network(item) if "/" in item else ipaddress.ip_address(item)))
            except ValueError as error:
                raise ValueError(f"{error}; give IP addresses or networks separated by commas") from None
        return proxies

    @model_validator(mode="after")
    def _imap_login_given(self) -> Settings:
        if self.imap_host and not (self.imap_username and self.imap_password.get_secret_value()):
            raise ValueError(
                "CIVICDESK_IMAP_HOST is set, so CIVICDESK_IMAP_USERNAME and CIVICDESK_IMAP_PASSWORD are needed"
            )
        return self

    @model_validator(mode="after")
    def _no_dev_secrets_outside_development(self) -> Settings:
        if self.env == "development":
            return self
        for name, dev_value in (("secret_key", DEV_SECRET_KEY), ("actions_token", DEV_ACTIONS_TOKEN)):
            value: SecretStr = getattr(self, name)
            secret = value.get_secret_value()
            if secret == dev_value or len(secret) < 32:
                raise ValueError(
                    f"CIVICDESK_{name.upper()} must be set to a random value of at least 32 characters "
                    f"when CIVICDESK_ENV={self.env}"
                )
        return self

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL with defaults filled in and PostgreSQL pinned to the psycopg 3 driver."""
        if not self.database_url:
            return f"sqlite:///{self.var_dir / 'civicdesk.db'}"
        if self.database_url.startswith("postgresql://"):
            return "postgresql+psycopg://" + self.database_url.removeprefix("postgresql://")
        return self.database_url

    @property
    def secure_cookies(self) -> bool:
        return self.cookie_secure if self.cookie_secure is not None else self.env != "development"

    @property
    def serves_api_docs(self) -> bool:
        return self.api_docs if self.api_docs is not None else self.env != "production"

    @property
    def maildir_path(self) -> Path:
        return self.maildir or self.var_dir / "mail" / "inbox"

    @property
    def tracker_db_path(self) -> Path:
        return self.tracker_db or self.var_dir / "rasa-trackers.db"

    @property
    def tracker_store_url(self) -> str:
        """Rasa's tracker store as a SQLAlchemy URL for this side (retention and erasure reach into it)."""
        if self.rasa_tracker_url:
            return "postgresql+psycopg://" + self.rasa_tracker_url.split("://", 1)[1]
        return f"sqlite:///{self.tracker_db_path}"

    @property
    def public_core_url(self) -> str:
        return self.core_url or f"http://{self.host}:{self.port}"


class ConfigError(UserError):
    """Configuration that cannot work."""


def describe_validation_error(error: ValidationError) -> str:
    """Turn pydantic's multi-line report into one line naming each bad variable."""
    parts = []
    for item in error.errors():
        field = ".".join(str(p) for p in item["loc"])
        name = f"CIVICDESK_{field.upper()}" if field else "settings"
        parts.append(f"{name}: {item['msg'].removeprefix('Value error, ')}")
    return "invalid configuration: " + "; ".join(parts)


@lru_cache
def get_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        raise ConfigError(describe_validation_error(error)) from None
