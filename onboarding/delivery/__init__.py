"""Delivery: every email the project sends, rendered from its templates (``messages``), entered in
the ledger and sent exactly once (``ledger``) through an account's senders (``senders``: a local
outbox, or the Gmail API) within its quota (``quota``)."""
