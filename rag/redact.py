"""One redaction for every message that leaves the process (notices, errors, logs, the page,
JSON, eval reports): the configured secrets, bearer headers, API-key shapes and URL userinfo
are replaced by `[redacted]`.

Settings register their secrets when they load (`register_secret`); the patterns catch the
rest (a key quoted by an HTTP library, a password in a base URL).
"""

from __future__ import annotations

import logging
import re
import threading

MARK = "[redacted]"
_SECRETS: set[str] = set()
_LOCK = threading.Lock()
_PATTERNS = (
    (re.compile(r"(?i)\b(authorization\s*[:=]\s*['\"]?\s*(?:bearer|basic|token)?\s*)[^\s'\",}]+"), rf"\1{MARK}"),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]{6,}"), rf"\1 {MARK}"),
    (re.compile(r"\b(?:sk|rk|pk)-[A-Za-z0-9_\-]{6,}"), MARK),  # OpenAI-style keys
    (re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/\s@:]*:[^/\s@]*@"), rf"\1{MARK}@"),  # http://user:pass@host
    (re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/\s@:]+@"), rf"\1{MARK}@"),  # http://token@host
    (re.compile(r"(?i)\b((?:api[_-]?key|token|password|secret)\s*[=:]\s*['\"]?)[^\s'\",&}]{4,}"), rf"\1{MARK}"),
)


def register_secret(value: str | None) -> None:
    """Remember a secret (and its whitespace-stripped form) so that no output shows it."""
    if not value:
        return
    with _LOCK:
        for v in (value, value.strip()):
            if len(v) >= 4:
                _SECRETS.add(v)


def redact(text: object) -> str:
    """`text` with every known secret, bearer header, key shape and URL userinfo replaced."""
    out = str(text)
    with _LOCK:
        secrets = sorted(_SECRETS, key=len, reverse=True)
    for secret in secrets:
        out = out.replace(secret, MARK)
        out = out.replace(repr(secret)[1:-1], MARK)  # as a Python repr quotes it ("sk-...\\n")
    for pattern, repl in _PATTERNS:
        out = pattern.sub(repl, out)
    return out


def public_url(url: str | None) -> str:
    """A URL fit to print: without user and password."""
    return redact(url or "")


class RedactingFilter(logging.Filter):
    """Redacts every log record, message and traceback alike, before a handler writes it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info:
            import traceback

            record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)))
            record.exc_info = None
        return True


def install_log_redaction() -> None:
    """Put the redacting filter on every handler of the root logger (call after configuring it)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
