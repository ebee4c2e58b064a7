"""Structured JSON logs.

Events carry a correlation id (the stored message id) from webhook to reply. They never carry
secrets, tokens or message bodies: log the ids, not the content.
"""

import logging
import logging.config
import re

import structlog


def configure(logging_settings: dict) -> None:
    structlog.configure(
        processors=[
            # First: a disabled level costs one comparison, not the whole chain.
            structlog.stdlib.filter_by_level,
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    logging.config.dictConfig(logging_settings)


# Secrets that travel in URLs: the Z-API webhook path secret (/webhooks/<endpoint>/<secret>/),
# Z-API's instance token in outbound URLs (/instances/<id>/token/<token>/...), and a Slack incoming
# webhook (whoever has its URL can post to the operators' channel).
_URL_SECRETS = (
    (re.compile(r"(/webhooks/[\w-]+/)[^/\s\"'?]+"), r"\1***"),
    (re.compile(r"/instances/[^/\s\"']+/token/[^/\s\"']+"), "/instances/***/token/***"),
    (re.compile(r"(hooks\.slack\.com/services/)[^\s\"']+"), r"\1***"),
)


def redact_url_secrets(text: str) -> str:
    for pattern, replacement in _URL_SECRETS:
        text = pattern.sub(replacement, text)
    return text


class RedactUrlSecrets(logging.Filter):
    """Masks URL-borne secrets in log lines (Django's 4xx warnings, httpx's request lines)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed record is logging's business, not ours
            return True
        redacted = redact_url_secrets(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True
