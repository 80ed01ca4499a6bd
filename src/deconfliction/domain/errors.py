"""Typed domain errors; the API edge turns each into Problem Details (RFC 9457) once."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the domain and services raise on purpose."""

    status = 400
    title = "Bad request"
    slug = "bad-request"

    def __init__(self, detail: str, *, field: str | None = None, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.errors = errors  # several findings at once (an import's rows): [{"field", "message"}, ...]


class InvalidInput(DomainError):
    """The request is well-formed JSON but its content breaks a rule (bad geometry, end before start)."""

    status = 422
    title = "Invalid input"
    slug = "invalid-input"


class TooLarge(InvalidInput):
    """A geometry exceeds a configured limit (vertex count, area): 422, as the contract says for invalid geometry.

    (An oversized request body is refused earlier, at the HTTP edge, with 413.)
    """

    title = "Too large"
    slug = "too-large"


class NotFound(DomainError):
    status = 404
    title = "Not found"
    slug = "not-found"


class Forbidden(DomainError):
    status = 403
    title = "Forbidden"
    slug = "forbidden"


class Unauthorized(DomainError):
    status = 401
    title = "Unauthorized"
    slug = "unauthorized"


class AlreadyExists(DomainError):
    status = 409
    title = "Already exists"
    slug = "already-exists"


class StateConflict(DomainError):
    """The action does not fit the current state (e.g. revising a cancelled declaration)."""

    status = 409
    title = "Conflict with current state"
    slug = "state-conflict"


class PreconditionFailed(DomainError):
    status = 412
    title = "Precondition failed"
    slug = "precondition-failed"


class PreconditionRequired(DomainError):
    status = 428
    title = "Precondition required"
    slug = "precondition-required"


class RateLimited(DomainError):
    status = 429
    title = "Too many requests"
    slug = "rate-limited"

    def __init__(self, detail: str, *, retry_after_s: int | None = None, field: str | None = None) -> None:
        super().__init__(detail, field=field)
        self.retry_after_s = retry_after_s  # answered as Retry-After


class AirspaceConflict(DomainError):
    """F3548-21: a write's key lacks the current OVN of entities it intersects; `missing` holds their references
    as the writer may see them (answered as an AirspaceConflictResponse)."""

    status = 409
    title = "Airspace conflict"
    slug = "airspace-conflict"

    def __init__(self, detail: str, *, missing_operational_intents: list[dict[str, object]],
                 missing_constraints: list[dict[str, object]]) -> None:  # fmt: skip
        super().__init__(detail, field="key")
        self.missing_operational_intents = missing_operational_intents
        self.missing_constraints = missing_constraints
