"""The master key (from the environment) and keys derived from it for one purpose each."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import secrets

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..config import Settings

log = logging.getLogger(__name__)


class MasterKeyError(RuntimeError):
    pass


def generate_master_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def decode_master_key(text: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except ValueError as exc:
        raise MasterKeyError("TURNOUT_MASTER_KEY is not url-safe base64") from exc
    if len(raw) != 32:
        raise MasterKeyError("TURNOUT_MASTER_KEY must decode to 32 bytes")
    return raw


def _fingerprint(master: bytes) -> str:
    return hashlib.sha256(b"turnout/fingerprint" + master).hexdigest()[:32]


class Keyring:
    def __init__(self) -> None:
        self._master: bytes | None = None
        self._previous: list[bytes] = []
        self._derived: dict[str, bytes] = {}

    def configure(self, settings: Settings) -> None:
        if settings.master_key:
            self._master = decode_master_key(settings.master_key)
        elif settings.development:
            path = settings.data_dir / "master.key"
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as fh:
                    fh.write(generate_master_key())
            log.warning("TURNOUT_MASTER_KEY not set: using the development key in %s", path)
            self._master = decode_master_key(path.read_text())
        else:
            raise MasterKeyError("TURNOUT_MASTER_KEY is required when TURNOUT_ENV=production")
        self._previous = [decode_master_key(k) for k in settings.previous_master_keys]
        self._derived.clear()

    @property
    def fingerprint(self) -> str:
        if self._master is None:
            raise MasterKeyError("the keyring is not configured")
        return _fingerprint(self._master)

    def wrap(self, key: bytes, aad: bytes) -> bytes:
        """Encrypt a tenant key under the current master key (AES-256-GCM)."""
        nonce = os.urandom(12)
        return nonce + AESGCM(self._wrapping_key(self._master)).encrypt(nonce, key, aad)

    def unwrap(self, wrapped: bytes, aad: bytes, fingerprint: str) -> bytes:
        for master in [self._master, *self._previous]:
            if master is not None and _fingerprint(master) == fingerprint:
                return AESGCM(self._wrapping_key(master)).decrypt(wrapped[:12], wrapped[12:], aad)
        raise MasterKeyError(f"no master key with fingerprint {fingerprint} is configured")

    @staticmethod
    def _wrapping_key(master: bytes | None) -> bytes:
        if master is None:
            raise MasterKeyError("the keyring is not configured")
        return HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"turnout/tenant-key-wrap"
        ).derive(master)

    def derive(self, purpose: str) -> bytes:
        if self._master is None:
            raise MasterKeyError("the keyring is not configured")
        key = self._derived.get(purpose)
        if key is None:
            key = HKDF(
                algorithm=hashes.SHA256(), length=32, salt=None, info=f"turnout/{purpose}".encode()
            ).derive(self._master)
            self._derived[purpose] = key
        return key


keyring = Keyring()
