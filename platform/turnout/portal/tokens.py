"""The candidate's link: /i/<tenant slug>.<secret>.

The secret (32 random bytes, url-safe base64, stored only as its SHA-256 and encrypted) is what
makes the link unguessable; the slug in front only says which tenant's schema to look in, so
the portal needs no global index of tokens. Slugs have no '.', secrets neither: the first '.'
splits them unambiguously."""

from __future__ import annotations

import re

SLUG = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
SECRET = re.compile(r"^[A-Za-z0-9_-]{20,100}$")


def make(tenant_slug: str, secret: str) -> str:
    return f"{tenant_slug}.{secret}"


def path(tenant_slug: str, secret: str) -> str:
    return f"/i/{make(tenant_slug, secret)}"


def parse(token: str) -> tuple[str, str] | None:
    """(slug, secret), or None when the token cannot be one of ours."""
    slug, dot, secret = token.partition(".")
    if not dot or not SLUG.match(slug) or not SECRET.match(secret):
        return None
    return slug, secret


def redacted(token: str) -> str:
    """For logs: the tenant part and the secret's first characters, never the whole token."""
    slug, _, secret = token.partition(".")
    return f"{slug[:40]}.{secret[:4]}…" if secret else f"{token[:8]}…"
