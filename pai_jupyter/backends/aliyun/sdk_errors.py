"""Every SDK failure becomes one ``PaiError`` line: what failed, the request id, what to check.

Tea / Darabonba exceptions (DLC, EAS) and ``oss2`` exceptions carry a status,
a code, a message and a request id; users see those, never the exception's
multi-line dump. Use ``sdk_call("create DLC job 'x'", endpoint, "check ...")``
as a context manager around each SDK call.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ...errors import (
    AuthError,
    BackendUnavailable,
    ConflictError,
    NotFoundError,
    PaiError,
    RemoteError,
    ValidationError,
)

_MAX = 200


def _one_line(text: object) -> str:
    line = " ".join(str(text or "").split())
    return line if len(line) <= _MAX else line[: _MAX - 3] + "..."


# Codes that mean "these credentials are wrong", whatever the status (POP answers 400/404 for them).
AUTH_CODES = ("SignatureDoesNotMatch", "InvalidAccessKeyId", "IncompleteSignature", "InvalidSecurityToken")


def _status_error(status: int, code: str, message: str, hint: str) -> PaiError:
    if code.startswith(AUTH_CODES):
        return AuthError(message, "check the access key and its secret (see `jupyter pai doctor`)")
    if status == 404:
        return NotFoundError(message, hint)
    if status in (401, 403):
        return AuthError(message, hint)
    if status == 409:
        return ConflictError(message, hint)
    if status == 429 or "Throttling" in code:
        return RemoteError(message, "the service is throttling requests; retry in a few seconds", 429)
    if status >= 500:
        return RemoteError(message, hint, status)
    if 400 <= status < 500:
        return ValidationError(message, hint)
    return RemoteError(message, hint, 502)


def translate_tea(exc: Exception, what: str, endpoint: str, check: str = "") -> PaiError:
    """A DLC / EAS SDK exception as one PaiError."""
    status = getattr(exc, "status_code", None) or getattr(exc, "statusCode", None)
    data = getattr(exc, "data", None) or {}
    if status:
        code = str(getattr(exc, "code", "") or data.get("Code") or "")
        text = _one_line(data.get("Message") or getattr(exc, "message", "") or exc)
        request_id = getattr(exc, "request_id", None) or data.get("RequestId") or "none"
        message = f"{what} failed: {code or f'HTTP {status}'}: {text} (request id {request_id})"
        hint = check
        if status in (401, 403):
            hint = "check that the credentials are valid and the RAM policy allows this action (docs/aliyun.md)"
        return _status_error(int(status), code, message, hint or f"check the request and the endpoint {endpoint}")
    name = type(exc).__name__
    raw = " ".join(str(getattr(exc, "message", "") or exc).split())
    if "credential" in name.lower() or "CredentialException" in raw or "unable to load credentials" in raw:
        from .credentials import CHAIN_HINT

        return AuthError(f"{what} failed: no usable Alibaba Cloud credentials", CHAIN_HINT)
    # Unretryable/Retry errors wrap the transport failure (connection refused, DNS, timeout).
    if "Connection refused" in raw:
        reason = "connection refused"
    elif "timed out" in raw.lower() or "timeout" in raw.lower():
        reason = "timed out"
    elif "Name or service not known" in raw or "NameResolution" in raw or "getaddrinfo" in raw:
        reason = "host name not found"
    else:
        reason = _one_line(raw)[:120]
    return BackendUnavailable(
        f"{what} failed: cannot reach {endpoint} ({reason})",
        "check the region and endpoint settings (PaiConfig.region / *_endpoint) and the network",
    )


def translate_oss(exc: Exception, what: str, endpoint: str, bucket: str) -> PaiError:
    """An ``oss2`` exception as one PaiError naming the bucket and endpoint."""
    import oss2.exceptions as oe

    if isinstance(exc, oe.RequestError):
        return BackendUnavailable(
            f"{what} failed: cannot reach OSS endpoint {endpoint}",
            "check PaiConfig.oss_endpoint (use oss-<region>-internal.aliyuncs.com only inside Alibaba Cloud)",
        )
    if isinstance(exc, oe.OssError):
        code = str(getattr(exc, "code", "") or "")
        request_id = getattr(exc, "request_id", "") or "none"
        text = _one_line(getattr(exc, "message", "") or code)
        if code == "NoSuchBucket":
            return NotFoundError(
                f"{what} failed: bucket {bucket!r} does not exist at {endpoint} (request id {request_id})",
                "check PaiConfig.oss_bucket and that oss_endpoint is in the bucket's region",
            )
        if code == "NoSuchKey":
            return NotFoundError(f"{what} failed: the object does not exist (request id {request_id})")
        if isinstance(exc, oe.AccessDenied) or code in ("AccessDenied", "InvalidAccessKeyId"):
            return AuthError(
                f"{what} failed: {code or 'AccessDenied'} on bucket {bucket!r} at {endpoint}"
                f" (request id {request_id})",
                "check the credentials and that the RAM policy grants oss:* on this bucket",
            )
        status = int(getattr(exc, "status", 0) or 0)
        message = f"{what} failed: {code or f'HTTP {status}'}: {text} (request id {request_id})"
        if status <= 0:
            return RemoteError(message, f"OSS endpoint {endpoint}", 502)
        return _status_error(status, code, message, f"bucket {bucket!r} at {endpoint}")
    return translate_tea(exc, what, endpoint)


@contextmanager
def sdk_call(what: str, endpoint: str, check: str = "") -> Iterator[None]:
    """Run one DLC / EAS SDK call; any SDK exception leaves as a PaiError."""
    try:
        yield
    except PaiError:
        raise
    except Exception as exc:
        if _is_sdk_error(exc):
            raise translate_tea(exc, what, endpoint, check) from None
        raise


@contextmanager
def oss_call(what: str, endpoint: str, bucket: str) -> Iterator[None]:
    try:
        yield
    except PaiError:
        raise
    except Exception as exc:
        import oss2.exceptions as oe

        if isinstance(exc, oe.OssError) or _is_sdk_error(exc):
            raise translate_oss(exc, what, endpoint, bucket) from None
        raise


def _is_sdk_error(exc: Exception) -> bool:
    from Tea.exceptions import TeaException

    if isinstance(exc, TeaException):
        return True
    module = type(exc).__module__
    return module.startswith(("alibabacloud_", "darabonba", "Tea", "requests", "urllib3"))


# -- retries for idempotent reads ------------------------------------------------------------
# tea-openapi 0.4.6 / Darabonba moved retries from RuntimeOptions(autoretry=...) into a
# client-wide Config.retry_options, which would also repeat CreateJob (not idempotent). Reads
# retry here instead: throttling (429 / Throttling.*) and 5xx answers, with exponential backoff
# and jitter; a refused connection or a 4xx fails at once.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
READ_ATTEMPTS = 4
BACKOFF_S = 0.5


def read_call(what: str, endpoint: str, check: str, fn: Any, attempts: int = READ_ATTEMPTS) -> Any:
    """``fn()`` under ``sdk_call``, retried with backoff while the service throttles or fails."""
    import random
    import time

    for attempt in range(attempts):
        try:
            with sdk_call(what, endpoint, check):
                return fn()
        except RemoteError as exc:
            if exc.http_status not in RETRY_STATUSES or attempt == attempts - 1:
                raise
            time.sleep(min(8.0, BACKOFF_S * 2**attempt) * (0.5 + random.random() / 2))
    raise AssertionError("unreachable")  # pragma: no cover
