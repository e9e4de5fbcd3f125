"""Password hashing (Argon2id) on a bounded number of threads, with a bounded queue.

A hash keeps a core busy for a tenth of a second. Left to anyio's forty worker threads, a burst
of logins would take every core from the event loop that serves the devices; here at most
`threads` hashes run at once, each on one core (parallelism 1), and past `max_waiting` logins
in flight the next is told to come back (429) instead of queueing without end.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..domain.errors import BadRequest, TooManyRequests

MIN_PASSWORD_LENGTH = 6
# RFC 9106's second recommended option (64 MiB, 3 passes) on one lane: one core per hash.
_hasher = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=1)
R = TypeVar("R")


class Passwords:
    def __init__(self, threads: int = 1, max_waiting: int = 32) -> None:
        self._limiter = anyio.CapacityLimiter(threads)
        self._max_waiting = max_waiting
        self._in_flight = 0
        # Verified when there is no user (or no password yet), so that an unknown account takes
        # as long to refuse as a wrong password: timing tells nothing of who has an account.
        self._decoy = _hasher.hash(secrets.token_urlsafe(16))

    async def hash(self, password: str) -> str:
        if len(password) < MIN_PASSWORD_LENGTH:
            raise BadRequest(f"Password must be at least {MIN_PASSWORD_LENGTH} characters long!")
        return await self._run(_hasher.hash, password)

    async def matches(self, password_hash: str | None, password: str) -> bool:
        """Whether the password is the one hashed; always one hash's work, hash or not."""
        matched = await self._run(_verify, password_hash or self._decoy, password)
        return matched and password_hash is not None

    async def _run(self, work: Callable[..., R], *args: str) -> R:
        if self._in_flight >= self._max_waiting:
            raise TooManyRequests("Too many logins at once; try again in a moment", 1)
        self._in_flight += 1
        try:
            return await anyio.to_thread.run_sync(work, *args, limiter=self._limiter)
        finally:
            self._in_flight -= 1


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
