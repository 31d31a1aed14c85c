"""User-facing errors.

Every failure a user can cause or fix is a ``PaiError``: one line saying what
went wrong (``message``) and, where we know it, what to do (``hint``). Magics
turn it into ``UsageError``, the CLI into exit code 2, REST handlers into a JSON
``{"error": ..., "hint": ...}`` with ``http_status``. Anything else is a bug and
keeps its traceback.
"""

from __future__ import annotations


class PaiError(Exception):
    """Base class for errors shown to users as one line."""

    http_status = 400

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message

    def to_json(self) -> dict[str, str | None]:
        return {"error": self.message, "hint": self.hint, "type": type(self).__name__}


class ValidationError(PaiError):
    """A spec, option or URI is malformed."""


class NotFoundError(PaiError):
    http_status = 404


class ConflictError(PaiError):
    http_status = 409


class AuthError(PaiError):
    http_status = 401


class BackendUnavailable(PaiError):
    """The backend (local control plane, cloud endpoint) cannot be reached."""

    http_status = 503


class JobFailed(PaiError):
    """``Job.wait()`` saw the job end in a state other than Succeeded."""

    http_status = 409


class RemoteError(PaiError):
    """An error reported by a backend, carried over the wire with its status."""

    def __init__(self, message: str, hint: str | None = None, http_status: int = 500) -> None:
        super().__init__(message, hint)
        self.http_status = http_status


_BY_NAME: dict[str, type[PaiError]] = {
    cls.__name__: cls
    for cls in (PaiError, ValidationError, NotFoundError, ConflictError, AuthError, BackendUnavailable, JobFailed)
}


def error_from_json(body: dict, http_status: int) -> PaiError:
    """Rebuild the error a server sent with ``PaiError.to_json``."""
    cls = _BY_NAME.get(str(body.get("type", "")))
    message = str(body.get("error") or f"HTTP {http_status}")
    hint = body.get("hint")
    if cls is None:
        return RemoteError(message, hint, http_status)
    return cls(message, hint)
