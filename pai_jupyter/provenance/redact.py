"""Secret redaction, by name and by value.

By name: any mapping key that looks like a credential (``*KEY*``, ``*SECRET*``,
``*TOKEN*``, ``*PASSWORD*``, ...) has its value replaced. By value: strings are
scrubbed of the values of the process's own secret-named environment
variables (wherever they appear, a Git diff included), of credentials embedded
in URLs, and of well-known credential shapes (Alibaba Cloud / AWS access key
ids, private key blocks, bearer tokens).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "<redacted>"

_SECRET_NAME = re.compile(
    r"(KEY|SECRET|TOKEN|PASSW(OR)?D|PWD|CREDENTIAL|AUTH|SIGNATURE|PRIVATE|SESSION|COOKIE|DSN)", re.IGNORECASE
)
# Names that match the pattern but hold no secret.
_NOT_SECRET = re.compile(r"^(KEYBOARD|.*_KEY_ID_PATH|PYTHONHASHSEED|TOKENIZERS_PARALLELISM)$", re.IGNORECASE)

_VALUE_PATTERNS = [
    re.compile(r"\bLTAI[A-Za-z0-9]{12,30}\b"),  # Alibaba Cloud AccessKey id
    re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b"),  # AWS access key id
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL),
    re.compile(r"(?i)\b(bearer|token)\s+[A-Za-z0-9._~+/=-]{16,}"),
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b"),  # GitHub tokens
    re.compile(r"\bxox[abpr]-[A-Za-z0-9-]{10,}\b"),  # Slack tokens
]
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<cred>[^/@\s:]+(:[^/@\s]*)?)@")
# Secret values shorter than this are not scrubbed by value (too many false hits, e.g. "1").
_MIN_VALUE_LEN = 8


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name)) and not _NOT_SECRET.match(name)


def secret_values(environ: Mapping[str, str] | None = None) -> list[str]:
    """Values of secret-named environment variables, longest first."""
    environ = os.environ if environ is None else environ
    values = {v for k, v in environ.items() if is_secret_name(k) and len(v) >= _MIN_VALUE_LEN}
    return sorted(values, key=len, reverse=True)


def strip_url_credentials(url: str) -> str:
    """``https://user:token@host/x`` -> ``https://host/x``."""
    return _URL_CREDENTIALS.sub(lambda m: m.group("scheme"), url)


def redact_text(text: str, values: Iterable[str] = ()) -> str:
    for value in values:
        if value in text:
            text = text.replace(value, REDACTED)
    text = _URL_CREDENTIALS.sub(lambda m: m.group("scheme") + REDACTED + "@", text)
    for pattern in _VALUE_PATTERNS:
        text = pattern.sub(REDACTED, text)
    return text


def redact(data: Any, values: Iterable[str] | None = None) -> Any:
    """A copy of ``data`` (dicts, lists, strings) with secrets replaced by ``<redacted>``."""
    vals = list(secret_values() if values is None else values)
    return _redact(data, vals)


def _redact(data: Any, values: list[str]) -> Any:
    if isinstance(data, Mapping):
        out = {}
        for key, value in data.items():
            if isinstance(key, str) and is_secret_name(key) and isinstance(value, str | bytes | int | float):
                out[key] = REDACTED if value not in ("", None) else value
            else:
                out[key] = _redact(value, values)
        return out
    if isinstance(data, list | tuple):
        return [_redact(v, values) for v in data]
    if isinstance(data, str):
        return redact_text(data, values)
    return data
