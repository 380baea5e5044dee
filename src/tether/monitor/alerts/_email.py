"""SMTP email alerts, with the standard library's smtplib.

A password travels only inside TLS: with ``starttls`` (the default on port 587)
a server that does not offer STARTTLS is an error, never a reason to go on in
clear text; port 465 is TLS from the first byte; and a channel with a password
but no TLS is refused when it is built.  The server's certificate is verified
against the system's authorities (or ``cafile``), host name included.

Delivery is synchronous: the outbox calls :meth:`EmailChannel.deliver` in a
worker thread.  An error raises (socket and TLS errors as themselves, so
``classify`` gives ``connect.refused``, ``tls.untrusted`` and the rest; what
the SMTP server answered as :class:`EmailError`); no message or repr ever
contains the password.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from tether._hostport import join_hostport
from tether._redact import MASK
from tether.monitor._records import AlertPayload
from tether.monitor.alerts._message import body, subject

__all__ = ["IMPLICIT_TLS_PORT", "EmailChannel", "EmailError", "message_domain"]

log = logging.getLogger("tether.monitor")

IMPLICIT_TLS_PORT = 465
"""SMTP submission over TLS from the first byte (RFC 8314); other ports use STARTTLS."""


class EmailError(smtplib.SMTPException):
    """The SMTP server would not take the alert; the message names the step and its answer.
    ``permanent``: its answer was a 5xx, a refusal that will not change on a retry."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class EmailChannel:
    """Send each alert as a plain-text email to ``to``, from ``sender``.

    ``local_hostname`` is the name given in EHLO; left out, smtplib asks the
    machine's resolver for this host's fully qualified name.  ``implicit_tls``
    (TLS from the first byte, no STARTTLS) is the default on port 465 only.
    """

    def __init__(
        self,
        name: str,
        host: str,
        port: int,
        sender: str,
        to: tuple[str, ...] | list[str],
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = True,
        timeout: float = 10.0,
        cafile: str | None = None,
        local_hostname: str | None = None,
        implicit_tls: bool | None = None,
    ) -> None:
        if not to:
            raise ValueError(f"email channel {name!r}: no recipient in to")
        if (username is None) != (password is None):
            raise ValueError(f"email channel {name!r}: username and password go together")
        self.name = name
        self.host = host
        self.port = port
        self.sender = sender
        self.to = tuple(to)
        self.username = username
        self._password = password
        self.implicit_tls = port == IMPLICIT_TLS_PORT if implicit_tls is None else implicit_tls
        self.starttls = starttls and not self.implicit_tls
        if password is not None and not (self.implicit_tls or self.starttls):
            raise ValueError(
                f"email channel {name!r}: a password is sent only over TLS; set starttls: true "
                f"or use port {IMPLICIT_TLS_PORT}"
            )
        self.timeout = timeout
        self.cafile = cafile
        self.local_hostname = local_hostname

    def __repr__(self) -> str:
        user = f"{self.username}:{MASK}@" if self.username else ""
        tls = "tls" if self.implicit_tls else "starttls" if self.starttls else "plain"
        to = ", ".join(self.to)
        return f"<EmailChannel {self.name} smtp://{user}{self.where} {tls} to {to}>"

    @property
    def where(self) -> str:
        """``host:port`` of the SMTP server, for messages."""
        return join_hostport(self.host, self.port)

    def message(
        self, payload: AlertPayload, key: str, *, now: dt.datetime | None = None
    ) -> EmailMessage:
        """The email for one alert under its ``key``: subject and body from the shared
        wording, full headers."""
        message = EmailMessage()
        message["Subject"] = subject(payload)
        message["From"] = self.sender
        message["To"] = ", ".join(self.to)
        message["Date"] = format_datetime(now or dt.datetime.now(dt.UTC))
        domain = message_domain(self.sender)
        message["Message-ID"] = _message_id(payload, key, domain)
        if (
            payload.incident is not None
            and payload.event != "incident.opened"
            and self.name in payload.opened_to
        ):
            # Mail clients thread every later alert under the message that opened it,
            # where this channel sent that message.
            opened = _opening_id(payload.incident, domain)
            message["In-Reply-To"] = opened
            message["References"] = opened
        # RFC 3834: vacation responders and auto-forwarders leave it alone.
        message["Auto-Submitted"] = "auto-generated"
        message["X-Tether-Event"] = payload.event
        message["X-Tether-Key"] = key
        message.set_content(body(payload))
        return message

    def deliver(self, payload: AlertPayload, key: str) -> None:
        """Send one alert under its ``key``; raises if the server did not accept it for any
        recipient."""
        self.send(self.message(payload, key), self.to)

    def send(self, message: EmailMessage, to: tuple[str, ...] | list[str]) -> None:
        """Send ``message`` to ``to`` through this channel's server, encrypted and logged
        in as configured (a status page's subscribers are sent theirs so); raises if the
        server did not accept it for any recipient."""
        recipients = [parseaddr(address)[1] for address in to]
        with self._session() as smtp:
            try:
                refused = smtp.send_message(
                    message, from_addr=parseaddr(self.sender)[1], to_addrs=recipients
                )
            except smtplib.SMTPRecipientsRefused as exc:
                refusals = _refusals(exc.recipients)
                raise EmailError(
                    f"SMTP server {self.where} refused every recipient: {refusals}",
                    permanent=all(code >= 500 for code, _ in exc.recipients.values()),
                ) from None
            except smtplib.SMTPResponseException as exc:
                raise EmailError(
                    f"SMTP server {self.where} did not take the message: {_answer(exc)}",
                    permanent=exc.smtp_code >= 500,
                ) from None
        if refused:
            # The others have it; sending again would page them twice, and a
            # refused address is most often refused for good.
            log.warning("alert email %s: %s refused %s", self.name, self.where, _refusals(refused))

    def _session(self) -> smtplib.SMTP:
        """Connected, encrypted as configured, logged in: ready for MAIL FROM."""
        context = ssl.create_default_context(cafile=self.cafile)
        smtp: smtplib.SMTP
        if self.implicit_tls:
            smtp = smtplib.SMTP_SSL(
                self.host,
                self.port,
                local_hostname=self.local_hostname,
                timeout=self.timeout,
                context=context,
            )
        else:
            smtp = smtplib.SMTP(
                self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout
            )
        try:
            smtp.ehlo()
            if self.starttls:
                self._start_tls(smtp, context)
            if self.username is not None and self._password is not None:
                self._login(smtp, self.username, self._password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _start_tls(self, smtp: smtplib.SMTP, context: ssl.SSLContext) -> None:
        if not smtp.has_extn("starttls"):
            what = "the password or the alert" if self.username else "the alert"
            raise EmailError(
                f"SMTP server {self.where} does not offer STARTTLS, and tether does not send "
                f"{what} in clear text: enable STARTTLS on the server, use port "
                f"{IMPLICIT_TLS_PORT} if it speaks TLS there, or set starttls: false"
                + (" and drop the password" if self.username else "")
            )
        try:
            smtp.starttls(context=context)
        except smtplib.SMTPResponseException as exc:
            raise EmailError(f"SMTP server {self.where} refused STARTTLS: {_answer(exc)}") from None
        smtp.ehlo()

    def _login(self, smtp: smtplib.SMTP, username: str, password: str) -> None:
        if not smtp.has_extn("auth"):
            raise EmailError(
                f"SMTP server {self.where} does not offer AUTH; drop username and password, "
                "or check that this is the submission port"
            )
        mechanisms = smtp.esmtp_features["auth"].upper().split()
        try:
            if "PLAIN" in mechanisms:
                # One round trip, in UTF-8 as RFC 4616 has it: smtplib's own
                # login encodes ASCII only, and after a refusal sends the same
                # password again with each other mechanism the server offers.
                token = base64.b64encode(f"\0{username}\0{password}".encode()).decode()
                code, reply = smtp.docmd("AUTH", f"PLAIN {token}")
                if code != 235:
                    raise smtplib.SMTPAuthenticationError(code, reply)
            else:
                smtp.login(username, password)
        except smtplib.SMTPResponseException as exc:
            # `from None`: nothing of the exchange that carried the password is kept.
            answer = _answer(exc).replace(password, MASK)
            raise EmailError(
                f"SMTP server {self.where} refused the login of {username!r}: {answer}"
            ) from None
        except UnicodeEncodeError:
            offered = " ".join(mechanisms)
            raise EmailError(
                f"SMTP server {self.where} offers AUTH {offered}, which carries only ASCII; "
                f"the username or password of {username!r} has other characters"
            ) from None
        except smtplib.SMTPException as exc:
            raise EmailError(
                f"SMTP login of {username!r} at {self.where} failed: "
                f"{str(exc).replace(password, MASK)}"
            ) from None


def _answer(exc: smtplib.SMTPResponseException) -> str:
    """``535 5.7.8 Authentication credentials invalid``: the server's code and words."""
    error = exc.smtp_error
    text = error.decode(errors="replace") if isinstance(error, bytes) else str(error)
    return f"{exc.smtp_code} {' '.join(text.split())}"


def _refusals(refused: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(
        f"{address} ({code} {reply.decode(errors='replace')})"
        for address, (code, reply) in refused.items()
    )


def message_domain(sender: str) -> str:
    """The sender's domain names the Message-ID, so no lookup of this host's name is needed."""
    address = parseaddr(sender)[1]
    domain = address.rpartition("@")[2]
    return domain or "tether.invalid"


def _message_id(payload: AlertPayload, key: str, domain: str) -> str:
    """The same id for the same alert: a copy sent twice (delivery is at least once, by
    whichever instance) is one message to mail clients.  An incident's opening alert has
    the id the later ones point at (incident ids are never reused)."""
    if payload.incident is not None and payload.event == "incident.opened":
        return _opening_id(payload.incident, domain)
    # Every other alert is named by its incident (or monitor), monitor, event and time,
    # for a reader, and made unique by its key: two monitors whose names read alike once
    # made ASCII, down at one moment, still get two ids.
    stamp = "".join(
        c for c in dt.datetime.fromtimestamp(payload.at, dt.UTC).isoformat() if c.isalnum()
    )
    about = str(payload.incident) if payload.incident is not None else ""
    kind = payload.event.rpartition(".")[2]
    parts = ("tether", about, payload.monitor, stamp, kind, key[:8])
    left = ".".join(_atom(part) for part in parts if part)
    return f"<{left}@{domain}>"


def _opening_id(incident: int, domain: str) -> str:
    return f"<tether.{incident}.opened@{domain}>"


def _atom(text: str) -> str:
    """Only what RFC 5322 allows in a Message-ID without quoting."""
    return "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "-" for c in text)
