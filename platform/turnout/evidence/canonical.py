"""The byte-exact rules of the evidence format (docs/evidence-format.md): canonical JSON,
event hashes, the Merkle tree over chain heads and the signed checkpoint statement.
Pure functions, no database: the offline verifier is built on these alone."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64  # prev_hash of every chain's first event
MAX_INT = 2**53 - 1  # integers beyond this do not survive JavaScript verifiers

EVENT_PREFIX = b"turnout-evidence/event/v1\n"
LEAF_PREFIX = b"turnout-evidence/leaf/v1\n"
NODE_PREFIX = b"turnout-evidence/node/v1\n"
CHECKPOINT_PREFIX = b"turnout-evidence/checkpoint/v1\n"

BUNDLE_FORMAT = "turnout-evidence-bundle/1"
TENANT_CHAIN = "tenant"


def candidate_chain(candidate_id: object) -> str:
    return f"candidate:{candidate_id}"


class NotCanonical(ValueError):
    """A value the canonical encoding refuses (a float, a non-string key, a huge integer)."""


def _check(value: Any, path: str) -> None:
    if value is None or isinstance(value, (bool, str)):
        return
    if isinstance(value, int):
        if not -MAX_INT <= value <= MAX_INT:
            raise NotCanonical(f"{path}: integer outside +-(2^53-1)")
        return
    if isinstance(value, float):
        raise NotCanonical(f"{path}: floats are not allowed (use an integer or a string)")
    if isinstance(value, list):
        for i, v in enumerate(value):
            _check(v, f"{path}[{i}]")
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise NotCanonical(f"{path}: object keys must be strings")
            _check(v, f"{path}.{k}")
        return
    raise NotCanonical(f"{path}: {type(value).__name__} is not a JSON value")


def canonical(value: Any, checked: bool = False) -> bytes:
    """JSON, keys sorted by code point, no whitespace, UTF-8 (no \\u escapes except control
    characters), integers only. `checked`: the caller has already checked the value."""
    if not checked:
        _check(value, "$")
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate
        raise NotCanonical("strings must be valid Unicode") from exc


def rfc3339(dt: datetime) -> str:
    """2026-11-30T01:02:03.000004Z: UTC, always six fraction digits."""
    if dt.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    d = dt.astimezone(UTC)
    return (
        f"{d.year:04d}-{d.month:02d}-{d.day:02d}T{d.hour:02d}:{d.minute:02d}:{d.second:02d}"
        f".{d.microsecond:06d}Z"
    )


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def event_hash(event: dict, checked: bool = False) -> str:
    """SHA-256 (hex) of the prefix and the canonical event: every member except "hash"."""
    body = {k: v for k, v in event.items() if k != "hash"}
    return hashlib.sha256(EVENT_PREFIX + canonical(body, checked)).hexdigest()


# --- checkpoints: a Merkle tree over the chain heads --------------------------------


def leaf_hash(chain: str, seq: int, head_hash: str) -> bytes:
    return hashlib.sha256(
        LEAF_PREFIX + canonical({"chain": chain, "hash": head_hash, "seq": seq})
    ).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def merkle_levels(leaves: list[bytes]) -> list[list[bytes]]:
    """Pairs left to right; a last node without a partner moves up unchanged."""
    if not leaves:
        raise ValueError("a checkpoint needs at least one chain")
    levels = [leaves]
    while len(levels[-1]) > 1:
        cur = levels[-1]
        levels.append(
            [
                _node(cur[i], cur[i + 1]) if i + 1 < len(cur) else cur[i]
                for i in range(0, len(cur), 2)
            ]
        )
    return levels


def merkle_root(leaves: list[bytes]) -> bytes:
    return merkle_levels(leaves)[-1][0]


def merkle_proof(levels: list[list[bytes]], index: int) -> list[bytes]:
    """The siblings from the leaf up (levels where the node moved up unchanged have none)."""
    out = []
    for level in levels[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            out.append(level[sibling])
        index //= 2
    return out


def root_from_proof(leaf: bytes, index: int, count: int, siblings: list[bytes]) -> bytes | None:
    """The root a proof leads to, or None if the proof has the wrong number of siblings."""
    if not 0 <= index < count:
        return None
    node, rest = leaf, list(siblings)
    while count > 1:
        if index % 2 == 1:
            if not rest:
                return None
            node = _node(rest.pop(0), node)
        elif index + 1 < count:
            if not rest:
                return None
            node = _node(node, rest.pop(0))
        index, count = index // 2, (count + 1) // 2
    return node if not rest else None


def checkpoint_statement(
    tenant_id: str, checkpoint_id: str, sealed_at: str, chains: int, root: str, key_id: str
) -> bytes:
    """The bytes the tenant's Ed25519 key signs."""
    return CHECKPOINT_PREFIX + canonical(
        {
            "chains": chains,
            "checkpoint_id": checkpoint_id,
            "key_id": key_id,
            "root": root,
            "sealed_at": sealed_at,
            "tenant_id": tenant_id,
        }
    )
