"""Messages as they arrive in the sender's mailbox, for the fake Gmail server and the outbox's
inbox folder: a delivery-status notification as Gmail's Mail Delivery Subsystem writes it
(``multipart/report``, the original message attached) and an unsubscribe mail."""
from __future__ import annotations

import email
import email.policy

DIAGNOSTICS = {
    "5.1.1": "smtp; 550-5.1.1 The email account that you tried to reach does not exist. Please try "
             "550-5.1.1 double-checking the recipient's email address for typos. - gsmtp",
    "4.2.2": "smtp; 452-4.2.2 The recipient's inbox is out of storage space. Please direct the recipient "
             "to 452-4.2.2 https://support.google.com/mail/?p=OverQuotaTemp - gsmtp",
    "5.7.1": "smtp; 550 5.7.1 Message rejected due to local policy",
}


def dsn(original: bytes, recipient: str, status: str = "5.1.1", action: str = "failed",
        sender: str = "team@example.edu", headers_only: bool = False,
        daemon: str = "mailer-daemon@googlemail.com", note: str = "") -> bytes:
    """A bounce for ``original`` (the raw email sent) to ``recipient``, from ``daemon``, with
    ``note`` added to its human-readable part (what a forger may write there)."""
    orig = email.message_from_bytes(original, policy=email.policy.compat32)
    attached = "text/rfc822-headers" if headers_only else "message/rfc822"
    body = "".join(f"{k}: {v}\r\n" for k, v in orig.items()) + ("" if headers_only else "\r\n" + orig.get_payload(
        decode=False) if not orig.is_multipart() else "\r\n" + orig.as_string().split("\n\n", 1)[1])
    diagnostic = DIAGNOSTICS.get(status, f"smtp; 550 {status} refused")
    b = "00000000000012345678abcdef"
    return (f"Delivered-To: {sender}\r\n"
            f"From: Mail Delivery Subsystem <{daemon}>\r\n"
            f"To: {sender}\r\n"
            f"Subject: Delivery Status Notification ({'Failure' if action == 'failed' else 'Delay'})\r\n"
            f"Date: Wed, 02 Dec 2026 07:01:02 -0800\r\n"
            f"Message-ID: <dsn-{abs(hash((recipient, status, action))):x}@mx.google.com>\r\n"
            f"MIME-Version: 1.0\r\n"
            f"Content-Type: multipart/report; boundary=\"{b}\"; report-type=delivery-status\r\n\r\n"
            f"--{b}\r\nContent-Type: text/plain; charset=\"UTF-8\"\r\n\r\n"
            f"** Address not found **\r\n\r\nYour message wasn't delivered to {recipient}.\r\n{note}\r\n"
            f"--{b}\r\nContent-Type: message/delivery-status\r\n\r\n"
            f"Reporting-MTA: dns; googlemail.com\r\nArrival-Date: Wed, 02 Dec 2026 07:01:01 -0800\r\n\r\n"
            f"Final-Recipient: rfc822; {recipient}\r\nAction: {action}\r\nStatus: {status}\r\n"
            f"Remote-MTA: dns; gmail-smtp-in.l.google.com.\r\nDiagnostic-Code: {diagnostic}\r\n"
            f"Last-Attempt-Date: Wed, 02 Dec 2026 07:01:02 -0800\r\n\r\n"
            f"--{b}\r\nContent-Type: {attached}\r\n\r\n{body}\r\n--{b}--\r\n").encode("utf-8")


def unsubscribe_mail(from_address: str, to_address: str, ref: str | None = None, subject: str | None = None) -> bytes:
    """What a mail program sends when someone clicks the ``mailto:`` List-Unsubscribe link."""
    subject = subject if subject is not None else (f"unsubscribe {ref}" if ref else "unsubscribe")
    return (f"From: {from_address}\r\nTo: {to_address}\r\nSubject: {subject}\r\n"
            f"Date: Wed, 02 Dec 2026 09:00:00 +1100\r\nMessage-ID: <u-{abs(hash(from_address)):x}@mail.example>\r\n"
            f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nunsubscribe\r\n").encode("utf-8")
