"""Outgoing mail: to the configured SMTP server, or one .eml file per message in the spool folder.

The spool is for instances without a mail server (and for tests): each message
is written whole to a temp file and renamed, so a reader never sees half of one.
"""

from __future__ import annotations

import os
import secrets
import smtplib
import ssl
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from emojid.config import Config


class Mailer:
    def __init__(self, config: Config) -> None:
        self.mail = config.mail
        self.spool_dir = config.mail_spool_dir
        self.instance_name = config.instance.name

    def message(self, to: str, subject: str, body: str) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = f"{self.instance_name} <{self.mail.from_address}>"
        msg["To"] = to
        msg["Subject"] = subject
        msg["Date"] = formatdate(localtime=False, usegmt=True)
        msg["Message-ID"] = make_msgid(domain=self.mail.from_address.rpartition("@")[2] or None)
        msg.set_content(body)
        return msg

    def send(self, to: str, subject: str, body: str) -> Path | None:
        """Deliver one message; the spool file when spooled, else None (blocking: run in a thread)."""
        msg = self.message(to, subject, body)
        if not self.mail.smtp_host:
            return self._spool(msg)
        self._smtp(msg)
        return None

    def _smtp(self, msg: EmailMessage) -> None:
        context = ssl.create_default_context()
        if self.mail.smtp_port == 465:
            server: smtplib.SMTP = smtplib.SMTP_SSL(self.mail.smtp_host, self.mail.smtp_port, timeout=30,
                                                    context=context)
        else:
            server = smtplib.SMTP(self.mail.smtp_host, self.mail.smtp_port, timeout=30)
        with server:
            if self.mail.smtp_port != 465 and self.mail.smtp_starttls:
                server.starttls(context=context)
            if self.mail.smtp_username:
                server.login(self.mail.smtp_username, self.mail.smtp_password)
            server.send_message(msg)

    def _spool(self, msg: EmailMessage) -> Path:
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns()}-{secrets.token_hex(4)}.eml"
        tmp = self.spool_dir / f".{name}.tmp"
        with open(tmp, "wb") as out:
            out.write(bytes(msg))
            out.flush()
            os.fsync(out.fileno())
        final = self.spool_dir / name
        os.replace(tmp, final)
        return final
