"""argon2id hashing at the OWASP floor or above, and the password policy."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# OWASP (2024): argon2id, m >= 19 MiB, t >= 2, p = 1.
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
MIN_LENGTH = 10
COMMON = {
    "password",
    "password1",
    "password123",
    "passw0rd",
    "qwerty",
    "qwertyuiop",
    "letmein",
    "iloveyou",
    "welcome",
    "welcome1",
    "admin",
    "administrator",
    "changeme",
    "123456789",
    "1234567890",
    "12345678910",
    "abcdefghij",
    "turnout",
    "turnout123",
}
# A valid hash to verify against when the account does not exist, so timing says nothing.
_DUMMY = HASHER.hash("not-a-real-password-0")


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    try:
        return HASHER.verify(stored_hash or _DUMMY, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return HASHER.check_needs_rehash(stored_hash)


def password_problems(password: str, email: str = "") -> list[str]:
    """Why a password is too weak (NIST 800-63B style: length and a blocklist)."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"must be at least {MIN_LENGTH} characters")
    if len(password) > 256:
        problems.append("must be at most 256 characters")
    lowered = password.lower()
    if lowered in COMMON or lowered.rstrip("0123456789!") in COMMON:
        problems.append("is a commonly used password")
    if len(set(password)) < 4:
        problems.append("needs more distinct characters")
    local = email.split("@", 1)[0].lower()
    if len(local) >= 4 and local in lowered:
        problems.append("must not contain the email address")
    return problems
