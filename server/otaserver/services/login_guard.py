"""Failed logins, limited per account and per client address (ThingsBoard's lockout, bettered).

ThingsBoard locks an account after a number of failures until an administrator unlocks it, so
anyone who knows an e-mail can lock its owner out. Here a lockout ends by itself, and an address
the account logged in from before (within a refresh token's lifetime) is not locked out with the
account: a stranger's guesses lock out the stranger, not the owner. Unknown accounts are counted
and locked like real ones, so a lockout tells nothing of who has an account.
"""

from __future__ import annotations

from uuid import UUID

from ..domain.errors import TooManyRequests
from ..domain.logins import LoginPolicy, account_key, address_key, after_failure
from .ports import Clock, Storage


class LoginGuard:
    def __init__(self, storage: Storage, clock: Clock, policy: LoginPolicy, trust_ms: int) -> None:
        self._storage = storage
        self._clock = clock
        self._policy = policy
        self._trust_ms = trust_ms

    async def admit(self, email: str, address: str, user_id: UUID | None) -> None:
        """Refuses (429) a login from a locked address, or to a locked account from a stranger."""
        now = self._clock.now_ms()
        async with self._storage.reading() as repos:
            by_address = await repos.logins.failures(address_key(address))
            by_account = await repos.logins.failures(account_key(email))
            known = user_id is not None and await repos.logins.known(
                user_id, address, now - self._trust_ms
            )
        if by_address is not None and (wait := by_address.locked_for(now)):
            raise _locked("this address", wait)
        if by_account is not None and (wait := by_account.locked_for(now)) and not known:
            raise _locked("this account", wait)

    async def failed(self, email: str, address: str) -> None:
        now = self._clock.now_ms()
        policy = self._policy
        async with self._storage.transaction() as repos:
            for key, limit in (
                (account_key(email), policy.max_failures_per_account),
                (address_key(address), policy.max_failures_per_address),
            ):
                count = await repos.logins.failures(key, lock=True)
                await repos.logins.save_failures(
                    key, after_failure(count, now, limit, policy.lockout_ms)
                )

    async def succeeded(self, email: str, address: str, user_id: UUID) -> None:
        # The address's count stays: a success on one's own account must not wipe out the
        # failures one's guesses at other accounts ran up.
        async with self._storage.transaction() as repos:
            await repos.logins.clear_failures(account_key(email))
            await repos.logins.remember(user_id, address, self._clock.now_ms())


def _locked(what: str, wait_ms: int) -> TooManyRequests:
    seconds = -(-wait_ms // 1000)
    return TooManyRequests(f"Too many failed logins from {what}; try again in {seconds} s", seconds)
