"""The ingester as `civicdesk ingest` runs it: mail source, triage model, outbox and alerts built from the settings."""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass, field
from email.utils import parseaddr
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from civicdesk.db import transaction
from civicdesk.errors import UserError
from civicdesk.models import OutboundMessage
from civicdesk.settings import Settings
from email_ingest.maildir import PROCESSED_FOLDER, QUARANTINE_FOLDER, MaildirSource
from email_ingest.outbox import SmtpRelay, deliver_pending
from email_ingest.process import ProcessConfig
from email_ingest.runner import MailSource

if TYPE_CHECKING:
    from classifiers.model import TriageModel

log = logging.getLogger(__name__)


def mail_sources(settings: Settings, factory: sessionmaker[Session]) -> list[MailSource]:
    """The mailboxes the settings name: the IMAP account and any more on its server when CIVICDESK_IMAP_HOST is
    set, else the Maildir drop folder."""
    if not settings.imap_host:
        return [MaildirSource(settings.maildir_path)]
    main = (settings.imap_username, settings.imap_password.get_secret_value(), settings.imap_folder)
    more = [(m.username, m.password.get_secret_value(), m.folder) for m in settings.imap_more_mailboxes]
    return [_imap_source(settings, factory, *login) for login in [main, *more]]


def _imap_source(
    settings: Settings, factory: sessionmaker[Session], username: str, password: str, folder: str
) -> MailSource:
    from email_ingest.imap import ImapAccount, ImapSource  # imapclient only where a mailbox is configured

    context = ssl.create_default_context(cafile=str(settings.imap_ca_file)) if settings.imap_ca_file else None
    try:
        account = ImapAccount(
            host=settings.imap_host,
            username=username,
            password=password,
            port=settings.imap_port,
            folder=folder,
            security=settings.imap_security,
            timeout=settings.imap_timeout_seconds,
            ssl_context=context,
        )
    except ValueError as error:
        raise UserError(str(error)) from None
    folders = {PROCESSED_FOLDER: settings.imap_processed_folder, QUARANTINE_FOLDER: settings.imap_quarantine_folder}
    return ImapSource(account, factory, settings.max_message_bytes, folders=folders)


@dataclass
class TriageLoader:
    """The active triage model version (classifiers.registry), loaded again when a retrain promotes another
    version or a rollback brings an older one back."""

    model_dir: Path  # the registry: versions/ and active.json
    _loaded: TriageModel | None = field(default=None, repr=False)
    _version: str | None = None

    def __call__(self) -> TriageModel | None:
        from classifiers.errors import ModelError
        from classifiers.model import load_model
        from classifiers.registry import Registry

        try:
            version_dir = Registry(self.model_dir).active_dir()
        except ModelError as error:  # a damaged active.json: keep triaging with what is loaded
            log.error("cannot read the active triage version (%s); keeping the model loaded before", error)
            return self._loaded
        if version_dir is None:
            if self._loaded is None:
                log.warning("no active triage model in %s: every message goes to an agent", self.model_dir)
            return self._loaded
        if version_dir.name != self._version:
            self._version = version_dir.name  # also on failure, so a broken version is reported once, not per call
            try:
                self._loaded = load_model(version_dir)
            except ModelError as error:
                log.error(
                    "cannot load triage model version %s (%s); keeping the one loaded before", self._version, error
                )
                return self._loaded
            log.info("triage model version %s loaded from %s", self._version, version_dir)
        return self._loaded


@dataclass
class IngestService:
    settings: Settings
    factory: sessionmaker[Session]
    mailbox: str

    @cached_property
    def config(self) -> ProcessConfig:
        own = parseaddr(self.settings.mail_from)[1].lower()
        domain = own.rsplit("@", 1)[-1] if "@" in own else "northvale.ca"
        return ProcessConfig(
            mailbox=self.mailbox,
            message_id_domain=domain,
            max_attachment_bytes=self.settings.max_attachment_bytes,
            ack_limit_per_hour=self.settings.ack_limit_per_hour,
            oncall_email=self.settings.oncall_email,
            oncall_webhook_url=self.settings.oncall_webhook_url,
            own_addresses=frozenset({own} if own else ()),
        )

    @cached_property
    def triage(self) -> TriageLoader:
        from civicdesk.triage.training import triage_model_dir

        return TriageLoader(triage_model_dir(self.settings))

    @cached_property
    def relay(self) -> SmtpRelay | None:
        settings = self.settings
        if not settings.smtp_host:
            return None
        try:
            return SmtpRelay(
                host=settings.smtp_host,
                port=settings.smtp_port,
                security=settings.smtp_security,
                username=settings.smtp_username,
                password=settings.smtp_password.get_secret_value(),
            )
        except ValueError as error:
            raise UserError(str(error)) from None

    def deliver(self) -> int:
        return deliver_pending(self.factory, self.relay, self.settings.mail_from, self.mailbox)

    def alert(self, text: str) -> None:
        """Repeated failures: logged as an error, and mailed to the on-call address when one is set."""
        log.error("ALERT: %s", text)
        if not self.settings.oncall_email:
            return
        try:
            with transaction(self.factory) as session:
                session.add(
                    OutboundMessage(
                        channel="email",
                        purpose="alert",
                        recipient=self.settings.oncall_email,
                        subject="civicdesk: the email ingester keeps failing",
                        body=text,
                    )
                )
            self.deliver()
        except Exception:  # the database or the relay may be what is failing; the log line stands
            log.exception("could not send the alert")
