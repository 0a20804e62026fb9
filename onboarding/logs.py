"""Log lines the data team can filter: the sentence people read, with its fields (cohort, run,
stage, counts) as key-values beside it rather than only inside the text.

Airflow renders a structlog event's keyword fields as ``key=value`` in the task log (and keeps
them as fields in its JSON log files); a standard-library logger's ``extra`` would be dropped.
"""
from __future__ import annotations

import logging
from typing import Any


def event(log: logging.Logger, level: int, message: str, *args: Any, **fields: Any) -> None:
    """``message % args`` at ``level`` on ``log``'s name, with ``fields`` as key-values."""
    import structlog

    if not log.isEnabledFor(level):
        return
    text = message % args if args else message
    logger = structlog.get_logger(log.name)
    getattr(logger, logging.getLevelName(level).lower())(text, **fields)
