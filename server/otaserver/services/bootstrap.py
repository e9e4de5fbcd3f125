"""What the first start creates: a system administrator, and with --demo ThingsBoard's demo data."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID, uuid4

from ..domain.enums import Authority
from ..domain.errors import BadRequest, NotFound
from ..domain.logins import account_key
from ..domain.model import Customer, Device, DeviceCredentials, DeviceProfile, Tenant, User
from .passwords import Passwords
from .ports import Clock, Repositories, Storage
from .tenants import DEFAULT_PROFILE_NAME, default_profile_details

DEMO_ACCOUNTS = (
    ("sysadmin@thingsboard.org", "sysadmin", Authority.SYS_ADMIN),
    ("tenant@thingsboard.org", "tenant", Authority.TENANT_ADMIN),
    ("customer@thingsboard.org", "customer", Authority.CUSTOMER_USER),
)
DEMO_TENANT, DEMO_CUSTOMER, DEMO_PROFILE = "Tenant", "Customer A", "thermostat"
DEMO_DEVICES = (
    ("Thermostat T1", "demo-token-t1"),
    ("Thermostat T2", "demo-token-t2"),
    ("Thermostat T3", "demo-token-t3"),
)


# Where a generated password goes before the account that has it exists: a file only its owner
# may read, never the log. The caller decides where; this layer does no I/O.
KeepPassword = Callable[[str], None]


@dataclass(frozen=True)
class CreatedAdmin:
    email: str
    generated: bool  # its password was generated and handed to `keep`


async def ensure_admin(
    storage: Storage,
    clock: Clock,
    passwords: Passwords,
    email: str,
    password: str,
    keep: KeepPassword,
) -> CreatedAdmin | None:
    """Creates the system administrator when there is none; returns it if it was created.

    A generated password is kept (`keep`) before the account is committed, so that no failure
    in between leaves an administrator whose password nobody knows."""
    async with storage.reading() as repos:
        if await repos.users.count(authority=Authority.SYS_ADMIN):
            return None
    generated = None if password else secrets.token_urlsafe(12)
    password_hash = await passwords.hash(password or generated or "")
    async with storage.transaction() as repos:
        if await repos.users.count(authority=Authority.SYS_ADMIN):
            return None  # another server process made it meanwhile
        if generated is not None:
            keep(generated)
        await _add_user(repos, clock, email, password_hash, Authority.SYS_ADMIN, None, None)
    return CreatedAdmin(email, generated is not None)


async def has_password(storage: Storage, passwords: Passwords, email: str, password: str) -> bool:
    """Whether the account `email` exists and `password` is its password."""
    async with storage.reading() as repos:
        found = await repos.users.find(email=email)
    return bool(found) and await passwords.matches(found[0].password_hash, password)


async def reset_password(
    storage: Storage, passwords: Passwords, email: str | None, password: str, keep: KeepPassword
) -> tuple[str, bool]:
    """Gives an account a new password, `password` or a generated one handed to `keep`; ends
    its sessions and its login lockout. Without `email`, the one system administrator's.
    Returns the account's email and whether the password was generated."""
    generated = None if password else secrets.token_urlsafe(12)
    password_hash = await passwords.hash(password or generated or "")
    async with storage.transaction() as repos:
        if email is None:
            admins = await repos.users.find(authority=Authority.SYS_ADMIN)
            if not admins:
                raise NotFound("there is no system administrator yet: `otakit serve` creates it")
            if len(admins) > 1:
                emails = ", ".join(sorted(user.email for user in admins))
                raise BadRequest(f"there are several system administrators ({emails}): --email")
            user = admins[0]
        else:
            found = await repos.users.find(email=email)
            if not found:
                raise NotFound(f"there is no user {email}")
            user = found[0]
        if generated is not None:
            keep(generated)
        user.password_hash, user.activation_token = password_hash, None
        await repos.users.update(user)
        await repos.sessions.delete_for_user(user.id)
        await repos.logins.clear_failures(account_key(user.email))
    return user.email, generated is not None


async def seed_demo(storage: Storage, clock: Clock, passwords: Passwords) -> list[tuple[str, str]]:
    """ThingsBoard's demo accounts, a tenant with a profile and devices; (device, token) pairs.

    Running it again changes nothing.
    """
    hashes = {email: await passwords.hash(password) for email, password, _ in DEMO_ACCOUNTS}
    async with storage.transaction() as repos:
        tenants = await repos.tenants.find(title=DEMO_TENANT)
        if tenants:
            tenant = tenants[0]
        else:
            tenant = Tenant(id=uuid4(), created_time=clock.now_ms(), title=DEMO_TENANT)
            await repos.tenants.add(tenant)
            await repos.profiles.add(_profile(clock, tenant.id, DEFAULT_PROFILE_NAME, True))
        customers = await repos.customers.find(tenant_id=tenant.id, title=DEMO_CUSTOMER)
        if customers:
            customer = customers[0]
        else:
            customer = Customer(
                id=uuid4(), created_time=clock.now_ms(), tenant_id=tenant.id, title=DEMO_CUSTOMER
            )
            await repos.customers.add(customer)
        owners = {
            Authority.SYS_ADMIN: (None, None),
            Authority.TENANT_ADMIN: (tenant.id, None),
            Authority.CUSTOMER_USER: (tenant.id, customer.id),
        }
        for email, _, authority in DEMO_ACCOUNTS:
            if not await repos.users.count(email=email):
                await _add_user(repos, clock, email, hashes[email], authority, *owners[authority])
        profiles = await repos.profiles.find(tenant_id=tenant.id, name=DEMO_PROFILE)
        profile = profiles[0] if profiles else _profile(clock, tenant.id, DEMO_PROFILE, False)
        if not profiles:
            await repos.profiles.add(profile)
        for index, (name, token) in enumerate(DEMO_DEVICES):
            if await repos.devices.count(tenant_id=tenant.id, name=name):
                continue
            device = Device(
                id=uuid4(),
                created_time=clock.now_ms(),
                tenant_id=tenant.id,
                # The first device belongs to the demo customer, so its user sees one.
                customer_id=customer.id if index == 0 else None,
                name=name,
                device_profile_id=profile.id,
                type=profile.name,
            )
            await repos.devices.add(device)
            await repos.credentials.add(
                DeviceCredentials(
                    id=uuid4(),
                    created_time=clock.now_ms(),
                    device_id=device.id,
                    credentials_id=token,
                )
            )
    return list(DEMO_DEVICES)


def _profile(clock: Clock, tenant_id: UUID, name: str, is_default: bool) -> DeviceProfile:
    return DeviceProfile(
        id=uuid4(),
        created_time=clock.now_ms(),
        tenant_id=tenant_id,
        name=name,
        is_default=is_default,
        details=default_profile_details(),
    )


async def _add_user(
    repos: Repositories,
    clock: Clock,
    email: str,
    password_hash: str,
    authority: Authority,
    tenant_id: UUID | None,
    customer_id: UUID | None,
) -> None:
    await repos.users.add(
        User(
            id=uuid4(),
            created_time=clock.now_ms(),
            tenant_id=tenant_id,
            customer_id=customer_id,
            email=email,
            authority=authority,
            password_hash=password_hash,
        )
    )
