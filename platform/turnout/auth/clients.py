"""Integrators: OAuth2 client-credentials (authlib's grant), clients bound to one tenant."""

from __future__ import annotations

import base64
import hmac
import uuid
from collections.abc import Mapping
from urllib.parse import unquote

from authlib.oauth2.rfc6749 import AuthorizationServer, ClientMixin, OAuth2Request
from authlib.oauth2.rfc6749.errors import InvalidScopeError
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..kit.errors import FieldProblem, InvalidInput
from ..kit.ids import new_secret, sha256_hex
from ..tenancy.models import Tenant
from . import tokens
from .models import OAuthClient
from .permissions import SCOPE_PERMISSIONS
from .principal import Principal


def known_scopes() -> list[str]:
    return sorted(SCOPE_PERMISSIONS)


def _hash_secret(secret: str) -> str:
    # Secrets are 256 random bits, so a plain SHA-256 is enough (no dictionary to attack).
    return sha256_hex(secret)


async def create_client(
    session: AsyncSession, tenant: Tenant, name: str, scopes: list[str]
) -> tuple[OAuthClient, str]:
    """Returns the client and its secret, which is shown once and never stored."""
    problems = [
        FieldProblem("scopes", f"unknown scope {s!r}; scopes: {', '.join(known_scopes())}")
        for s in scopes
        if s not in SCOPE_PERMISSIONS
    ]
    if not scopes:
        problems.append(FieldProblem("scopes", "at least one scope is required"))
    if not name.strip():
        problems.append(FieldProblem("name", "must not be empty"))
    if problems:
        raise InvalidInput(problems=problems)
    secret = new_secret()
    client = OAuthClient(
        id=uuid.uuid4(),
        client_id=f"tc_{new_secret(12)}",
        name=name.strip(),
        secret_hash=_hash_secret(secret),
        tenant_id=tenant.id,
        scopes=sorted(set(scopes)),
    )
    session.add(client)
    await session.flush()
    return client, secret


async def client_principal(
    session: AsyncSession, client_id: str, tenant_id: uuid.UUID | None, scope: str
) -> tuple[Principal, Tenant] | None:
    stmt = (
        select(OAuthClient, Tenant)
        .join(Tenant, Tenant.id == OAuthClient.tenant_id)
        .where(OAuthClient.client_id == client_id, OAuthClient.active.is_(True))
    )
    row = (await session.execute(stmt)).first()
    if row is None or row[0].tenant_id != tenant_id:
        return None
    client, tenant = row
    # A token keeps only the scopes the client still has.
    scopes = frozenset(scope.split()) & frozenset(client.scopes)
    return Principal(
        kind="client", client_id=client.client_id, tenant_id=tenant.id, scopes=scopes
    ), tenant


class _Client(ClientMixin):
    def __init__(self, row: OAuthClient) -> None:
        self.row = row

    def get_client_id(self) -> str:
        return self.row.client_id

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(_hash_secret(client_secret), self.row.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"

    def get_allowed_scope(self, scope: str | None) -> str:
        allowed = set(self.row.scopes)
        if not scope:
            return " ".join(sorted(allowed))
        return " ".join(s for s in scope.split() if s in allowed)


class _Grant(ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


class _FormRequest(OAuth2Request):
    def __init__(self, method: str, uri: str, headers: Mapping[str, str], form: dict) -> None:
        super().__init__(method, uri, headers=headers)
        self._form = form
        self.payload = BasicOAuth2Payload(form)

    @property
    def form(self) -> dict:
        return self._form

    @property
    def args(self) -> dict:
        return {}


class TokenServer(AuthorizationServer):
    """One per request: the client row is fetched (async) before authlib's sync flow runs."""

    def __init__(self, row: OAuthClient | None, tenant_active: bool, minutes: int) -> None:
        super().__init__(scopes_supported=known_scopes())
        self._row = row if tenant_active else None
        self._minutes = minutes
        self.register_grant(_Grant)
        self.register_token_generator("default", self._token)

    def _token(
        self, grant_type, client, user=None, scope=None, expires_in=None, include_refresh_token=True
    ):
        row = client.row
        granted = client.get_allowed_scope(scope)
        if scope and set(scope.split()) - set(granted.split()):
            raise InvalidScopeError(description="the client does not have every scope asked for")
        token, ttl = tokens.issue(
            row.client_id, "client", row.tenant_id, self._minutes, scopes=granted.split()
        )
        return {"token_type": "Bearer", "access_token": token, "expires_in": ttl, "scope": granted}

    def query_client(self, client_id: str):
        return _Client(self._row) if self._row and self._row.client_id == client_id else None

    def save_token(self, token, request) -> None:
        pass  # JWTs are self-contained; nothing to store

    def create_oauth2_request(self, request: _FormRequest) -> _FormRequest:
        return request

    def create_json_request(self, request):
        raise NotImplementedError

    def handle_response(self, status_code, payload, headers):
        return status_code, payload, dict(headers)

    def send_signal(self, name, *args, **kwargs) -> None:
        pass


def client_id_of(headers: Mapping[str, str], form: dict) -> str | None:
    """The client id from HTTP Basic auth or the form, so its row can be fetched first."""
    auth = headers.get("authorization", "")
    if auth.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(auth[6:]).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        return unquote(decoded.split(":", 1)[0])
    return form.get("client_id")


def token_response(
    row: OAuthClient | None,
    tenant_active: bool,
    minutes: int,
    uri: str,
    headers: Mapping[str, str],
    form: dict,
) -> tuple[int, dict, dict]:
    server = TokenServer(row, tenant_active, minutes)
    return server.create_token_response(_FormRequest("POST", uri, headers, form))


async def client_row(
    session: AsyncSession, client_id: str | None
) -> tuple[OAuthClient | None, bool]:
    if not client_id:
        return None, False
    stmt = (
        select(OAuthClient, Tenant.status)
        .join(Tenant, Tenant.id == OAuthClient.tenant_id)
        .where(OAuthClient.client_id == client_id, OAuthClient.active.is_(True))
    )
    row = (await session.execute(stmt)).first()
    return (row[0], row[1] == "active") if row else (None, False)
