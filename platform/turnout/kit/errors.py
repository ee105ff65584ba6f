"""Errors the services raise; the interfaces turn them into typed results or exit codes."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FieldProblem:
    field: str  # dotted path of the input field, e.g. "input.slug"
    message: str
    code: str = "invalid"


class ServiceError(Exception):
    code = "error"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass
class InvalidInput(ServiceError):
    problems: list[FieldProblem] = field(default_factory=list)
    code = "invalid_input"

    def __post_init__(self) -> None:
        msg = "; ".join(f"{p.field}: {p.message}" for p in self.problems) or "invalid input"
        ServiceError.__init__(self, msg, self.problems[0].field if self.problems else None)


class NotFound(ServiceError):
    code = "not_found"


class Conflict(ServiceError):
    code = "conflict"


class Forbidden(ServiceError):
    code = "forbidden"


class TooManyAttempts(ServiceError):
    code = "too_many_attempts"

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


def invalid(field: str, message: str, code: str = "invalid") -> InvalidInput:
    return InvalidInput(problems=[FieldProblem(field, message, code)])
