"""Short-lived bearer tokens (JWT, HS256 under a key derived from the master key)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from ..crypto.keys import keyring
from ..kit.clock import clock

ISSUER = "turnout"


def _key() -> OctKey:
    return OctKey.import_key(keyring.derive("bearer-tokens"))


def issue(
    subject: str,
    kind: str,
    tenant_id: uuid.UUID | None,
    minutes: int,
    scopes: list[str] | None = None,
) -> tuple[str, int]:
    """A token for a user (kind "user") or an integrator (kind "client"); returns (token, ttl)."""
    now = clock.now()
    claims = {
        "iss": ISSUER,
        "sub": subject,
        "typ": kind,
        "tid": str(tenant_id) if tenant_id else None,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=minutes)).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    if scopes is not None:
        claims["scope"] = " ".join(scopes)
    return jwt.encode({"alg": "HS256"}, claims, _key()), minutes * 60


def read(token: str) -> dict | None:
    """The claims of a valid, unexpired token of ours, else None."""
    try:
        claims = jwt.decode(token, _key(), algorithms=["HS256"]).claims
    except (JoseError, ValueError):
        return None
    if claims.get("iss") != ISSUER or claims.get("typ") not in ("user", "client"):
        return None
    exp = claims.get("exp")
    if not isinstance(exp, int) or exp <= clock.now().timestamp():
        return None
    return claims
