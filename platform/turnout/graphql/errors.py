"""Typed error results for mutations: each mutation returns a union of its payload and these."""

from __future__ import annotations

from typing import Annotated, Union

import strawberry

from ..kit.errors import Conflict, Forbidden, InvalidInput, NotFound, ServiceError, TooManyAttempts


@strawberry.type
class FieldError:
    path: list[str] = strawberry.field(description='Path of the input field, e.g. ["slug"].')
    code: str
    message: str


@strawberry.type
class InvalidInputError:
    code: str
    message: str
    errors: list[FieldError]


@strawberry.type
class NotFoundError:
    code: str
    message: str
    path: list[str] | None


@strawberry.type
class ConflictError:
    code: str
    message: str
    path: list[str] | None
    conflicting_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="The existing objects this one clashes with."
    )


@strawberry.type
class ForbiddenError:
    code: str
    message: str
    retry_after_seconds: int | None = None


ErrorTypes = (InvalidInputError, NotFoundError, ConflictError, ForbiddenError)


def result(name: str, payload: type) -> object:
    """`Annotated[Union[payload, *errors], strawberry.union(name)]`."""
    return Annotated[Union[payload, *ErrorTypes], strawberry.union(name)]


def _path(field: str | None) -> list[str] | None:
    return field.split(".") if field else None


def as_error(exc: ServiceError) -> object:
    if isinstance(exc, InvalidInput):
        return InvalidInputError(
            code=exc.code,
            message=exc.message,
            errors=[
                FieldError(path=p.field.split("."), code=p.code, message=p.message)
                for p in exc.problems
            ],
        )
    if isinstance(exc, NotFound):
        return NotFoundError(code=exc.code, message=exc.message, path=_path(exc.field))
    if isinstance(exc, Conflict):
        return ConflictError(code=exc.code, message=exc.message, path=_path(exc.field))
    if isinstance(exc, TooManyAttempts):
        return ForbiddenError(
            code=exc.code, message=exc.message, retry_after_seconds=exc.retry_after_seconds
        )
    if isinstance(exc, Forbidden):
        return ForbiddenError(code=exc.code, message=exc.message)
    raise exc
