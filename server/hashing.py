"""argon2id password hashing: a safe high-level layer over argon2-cffi.

Parameters are OWASP's first argon2id recommendation: m = 19 MiB, t = 2, p = 1 (about 30 ms
per verification on the reference machine, see bench/server_load.py). Hashes made with other
parameters verify and are rehashed on the next successful login. A verification for an account
without a password runs against a dummy hash made at start-up, so the answer takes as long as
for a real account.
"""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


@dataclass(frozen=True)
class Argon2Params:
    time_cost: int = 2
    memory_kib: int = 19 * 1024
    parallelism: int = 1


OWASP = Argon2Params()
CHEAPEST = Argon2Params(time_cost=1, memory_kib=8, parallelism=1)  # tests only, never in use


class Hasher:
    def __init__(self, params: Argon2Params = OWASP) -> None:
        self.params = params
        self._ph = PasswordHasher(time_cost=params.time_cost, memory_cost=params.memory_kib,
                                  parallelism=params.parallelism, hash_len=32, salt_len=16,
                                  type=Type.ID)
        self._dummy = self._ph.hash("OwnFace dummy password for unknown accounts")

    def __repr__(self) -> str:
        return f"Hasher({self.params})"

    def hash(self, password: str) -> str:
        return self._ph.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        """True on a match. With ``stored=None`` the same work is done and False returned."""
        try:
            ok = self._ph.verify(stored or self._dummy, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return bool(ok) and stored is not None

    def needs_rehash(self, stored: str) -> bool:
        try:
            return self._ph.check_needs_rehash(stored)
        except InvalidHashError:
            return True
