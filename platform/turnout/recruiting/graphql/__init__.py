"""Recruiting GraphQL: types, loaders, queries and mutations."""

from .mutations import RecruitingMutation
from .queries import RecruitingQuery

__all__ = ["RecruitingMutation", "RecruitingQuery"]
