"""Composes the schema a tenant sees: the base plus its packs' types, built once per pack set."""

from __future__ import annotations

from functools import lru_cache

import strawberry
from strawberry.tools import merge_types

from ..auth.graphql import AuthMutation, AuthQuery
from ..config import Settings, get_settings
from ..delivery.graphql import (
    DeliveryMutation,
    DeliveryQuery,
    ProviderMutation,
    ProviderQuery,
    WebhookMutation,
    WebhookQuery,
)
from ..evidence.graphql import EvidenceMutation
from ..portal.graphql import PortalMutation, PortalQuery
from ..recruiting.graphql import RecruitingMutation, RecruitingQuery
from ..recruiting.graphql.types import (
    ApplicationType,
    CandidateType,
    InterviewerType,
    InterviewType,
    JobType,
    SlotType,
)
from ..rules.registry import get_pack
from ..tenancy.graphql import TenancyMutation, TenancyQuery
from .limits import extensions

NODE_TYPES = [JobType, CandidateType, ApplicationType, InterviewType, InterviewerType, SlotType]

BASE_QUERIES: tuple[type, ...] = (
    AuthQuery,
    TenancyQuery,
    RecruitingQuery,
    DeliveryQuery,
    WebhookQuery,
    ProviderQuery,
    PortalQuery,
)
BASE_MUTATIONS: tuple[type, ...] = (
    AuthMutation,
    TenancyMutation,
    RecruitingMutation,
    DeliveryMutation,
    WebhookMutation,
    ProviderMutation,
    PortalMutation,
    EvidenceMutation,
    ProviderQuery,
)


def build_schema(
    packs: frozenset[str] = frozenset(),
    introspection: bool = True,
    settings: Settings | None = None,
) -> strawberry.Schema:
    settings = settings or get_settings()
    queries, mutations = list(BASE_QUERIES), list(BASE_MUTATIONS)
    for name in sorted(packs):
        pack = get_pack(name)
        queries += pack.query_types
        mutations += pack.mutation_types
    return strawberry.Schema(
        query=merge_types("Query", tuple(queries)),
        mutation=merge_types("Mutation", tuple(mutations)),
        extensions=extensions(settings, introspection),
        types=NODE_TYPES,
    )


@lru_cache(maxsize=64)
def schema_for(packs: frozenset[str], introspection: bool) -> strawberry.Schema:
    return build_schema(packs, introspection)


def permission_doc() -> str:
    """docs/permissions.md: the matrix over every pack's fields too."""
    from ..rules.registry import all_packs
    from .matrix import markdown

    packs = list(all_packs().values())
    queries = [*BASE_QUERIES, *(t for p in packs for t in p.query_types)]
    mutations = [*BASE_MUTATIONS, *(t for p in packs for t in p.mutation_types)]
    return markdown(
        [
            *((t, "Query") for t in queries),
            *((t, "Mutation") for t in mutations),
            *((t, t.__strawberry_definition__.name) for t in NODE_TYPES),
        ]
    )


def sdl(packs: frozenset[str] = frozenset()) -> str:
    return build_schema(packs).as_str() + "\n"
