"""Declarative bases: public tables, and tenant tables declared once under a placeholder schema."""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Tenant tables carry this schema name; every tenant session translates it to
# the tenant's own schema (schema_translate_map), so no query can forget it.
TENANT_PLACEHOLDER = "tenant"

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class PublicBase(DeclarativeBase):
    metadata = MetaData(schema="public", naming_convention=NAMING)


class TenantBase(DeclarativeBase):
    metadata = MetaData(schema=TENANT_PLACEHOLDER, naming_convention=NAMING)
