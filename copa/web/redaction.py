"""Secrets out of logs: what a logged URL or log line may not show.

Query parameters that carry a credential (``api_key``, ``token``, ``access_token``), the token
of an unsubscribe link (``/v1/unsubscribe/<token>``) and bearer tokens are replaced by
``[redacted]``. Used by gunicorn's access and error logs (``copa.web.serving``) and by a filter
on the application's log handlers, so a URL logged by any library is redacted too.
"""

from __future__ import annotations

import logging
import re

REDACTED = "[redacted]"
SECRET_PARAMETERS = ("api_key", "token", "access_token")

# name=value in a query string or form body, wherever it appears in a line of text.
_PARAMETER = re.compile(
    r"(?P<name>(?<![\w-])(?:" + "|".join(SECRET_PARAMETERS) + r")=)(?P<value>[^&\s\"'#<>]*)",
    re.IGNORECASE,
)
# The signed token that is the whole key of an unsubscribe link.
_UNSUBSCRIBE = re.compile(r"(?P<name>/v1/unsubscribe/)(?P<value>[^/?#\s\"'<>]+)")
# PostgreSQL's DETAIL of a constraint error quotes the row or key: a resident's details.
_DATABASE_DETAIL = re.compile(r"(?P<name>^DETAIL:\s*)(?P<value>.*)$", re.MULTILINE)
_BEARER = re.compile(r"(?P<name>\bBearer\s+)(?P<value>[\w\-.~+/]+=*)", re.IGNORECASE)


def _keep_name(match: re.Match[str]) -> str:
    return match.group("name") + REDACTED


def redact(text: str) -> str:
    """``text`` with every credential-bearing query parameter, unsubscribe token, bearer token
    and database error DETAIL replaced by ``[redacted]``."""
    if not text:
        return text
    text = _PARAMETER.sub(_keep_name, text)
    text = _UNSUBSCRIBE.sub(_keep_name, text)
    text = _DATABASE_DETAIL.sub(_keep_name, text)
    return _BEARER.sub(_keep_name, text)


class RedactSecrets(logging.Filter):
    """Rewrites a record's message (and its formatted traceback) through ``redact``.

    On a handler it sees every record that handler writes, whichever logger made it; the
    record is changed in place, so handlers after it write the redacted text too.
    """

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def install(*loggers: logging.Logger) -> None:
    """Put one ``RedactSecrets`` on each handler of these loggers, and on the loggers
    themselves (for handlers added later, records made on them directly are still redacted)."""
    for logger in loggers:
        for target in (logger, *logger.handlers):
            if not any(isinstance(f, RedactSecrets) for f in target.filters):
                target.addFilter(RedactSecrets())
