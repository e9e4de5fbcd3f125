"""The database schema. Column names equal the domain dataclasses' field names.

Enums are stored by name (never ordinal) in plain strings, so adding a member needs no migration.
"""

from __future__ import annotations

import sqlalchemy as sa

from ..domain.enums import (
    ActionStatus,
    ActionType,
    Authority,
    ChecksumAlgorithm,
    EntityType,
    OtaPackageType,
)
from ..domain.orchestration import QueueState
from ..domain.telemetry import AttributeScope

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _enum(enum_class: type, length: int = 32) -> sa.Enum:
    return sa.Enum(enum_class, native_enum=False, length=length, create_constraint=False)


def _id() -> sa.Column[object]:
    return sa.Column("id", sa.Uuid, primary_key=True)


def _created() -> sa.Column[int]:
    return sa.Column("created_time", sa.BigInteger, nullable=False)


tenants = sa.Table(
    "tenants",
    metadata,
    _id(),
    _created(),
    sa.Column("title", sa.String(255), nullable=False),
    sa.Column("region", sa.String(255)),
    sa.Column("additional_info", sa.JSON),
    sa.Column("contact", sa.JSON, nullable=False),
)

customers = sa.Table(
    "customers",
    metadata,
    _id(),
    _created(),
    sa.Column(
        "tenant_id",
        sa.Uuid,
        sa.ForeignKey("tenants.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("title", sa.String(255), nullable=False),
    sa.Column("additional_info", sa.JSON),
    sa.Column("contact", sa.JSON, nullable=False),
)

users = sa.Table(
    "users",
    metadata,
    _id(),
    _created(),
    sa.Column("tenant_id", sa.Uuid, sa.ForeignKey("tenants.id", ondelete="CASCADE"), index=True),
    sa.Column("customer_id", sa.Uuid, sa.ForeignKey("customers.id", ondelete="CASCADE")),
    sa.Column("email", sa.String(255), nullable=False, unique=True),
    sa.Column("authority", _enum(Authority), nullable=False),
    sa.Column("first_name", sa.String(255)),
    sa.Column("last_name", sa.String(255)),
    sa.Column("additional_info", sa.JSON),
    sa.Column("password_hash", sa.String(255)),
    sa.Column("activation_token", sa.String(64), unique=True),
)

device_profiles = sa.Table(
    "device_profiles",
    metadata,
    _id(),
    _created(),
    sa.Column(
        "tenant_id",
        sa.Uuid,
        sa.ForeignKey("tenants.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("is_default", sa.Boolean, nullable=False),
    sa.Column("firmware_id", sa.Uuid, sa.ForeignKey("ota_packages.id"), index=True),
    sa.Column("software_id", sa.Uuid, sa.ForeignKey("ota_packages.id"), index=True),
    sa.Column("details", sa.JSON, nullable=False),
    sa.UniqueConstraint("tenant_id", "name", name="uq_device_profiles_tenant_name"),
    # One default profile per tenant, whatever races the API has.
    sa.Index(
        "uq_device_profiles_tenant_default",
        "tenant_id",
        unique=True,
        sqlite_where=sa.text("is_default"),
        postgresql_where=sa.text("is_default"),
    ),
)

devices = sa.Table(
    "devices",
    metadata,
    _id(),
    _created(),
    sa.Column(
        "tenant_id",
        sa.Uuid,
        sa.ForeignKey("tenants.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column(
        "customer_id", sa.Uuid, sa.ForeignKey("customers.id", ondelete="SET NULL"), index=True
    ),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column(
        "device_profile_id",
        sa.Uuid,
        sa.ForeignKey("device_profiles.id"),
        nullable=False,
        index=True,
    ),
    sa.Column("type", sa.String(255), nullable=False),
    sa.Column("label", sa.String(255)),
    sa.Column("firmware_id", sa.Uuid, sa.ForeignKey("ota_packages.id"), index=True),
    sa.Column("software_id", sa.Uuid, sa.ForeignKey("ota_packages.id"), index=True),
    sa.Column("additional_info", sa.JSON),
    sa.Column("device_data", sa.JSON),
    sa.UniqueConstraint("tenant_id", "name", name="uq_devices_tenant_name"),
)

credentials = sa.Table(
    "device_credentials",
    metadata,
    _id(),
    _created(),
    sa.Column(
        "device_id",
        sa.Uuid,
        sa.ForeignKey("devices.id", ondelete="CASCADE"),
        nullable=False,
        unique=True,
    ),
    sa.Column("credentials_id", sa.String(255), nullable=False, unique=True),
    sa.Column("credentials_type", sa.String(32), nullable=False),
)

ota_packages = sa.Table(
    "ota_packages",
    metadata,
    _id(),
    _created(),
    sa.Column(
        "tenant_id",
        sa.Uuid,
        sa.ForeignKey("tenants.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column(
        "device_profile_id",
        sa.Uuid,
        sa.ForeignKey("device_profiles.id", use_alter=True),
        nullable=False,
        index=True,
    ),
    sa.Column("type", _enum(OtaPackageType), nullable=False),
    sa.Column("title", sa.String(255), nullable=False),
    sa.Column("version", sa.String(255), nullable=False),
    sa.Column("tag", sa.String(255)),
    sa.Column("url", sa.String(1024)),
    sa.Column("file_name", sa.String(255)),
    sa.Column("content_type", sa.String(255)),
    sa.Column("checksum_algorithm", _enum(ChecksumAlgorithm)),
    sa.Column("checksum", sa.String(1020)),
    sa.Column("data_size", sa.BigInteger),
    sa.Column("data_sha256", sa.String(64), index=True),
    sa.Column("additional_info", sa.JSON),
    sa.UniqueConstraint(
        "tenant_id", "title", "version", name="ota_package_tenant_title_version_unq_key"
    ),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    _id(),
    _created(),
    sa.Column("tenant_id", sa.Uuid, index=True),
    sa.Column("customer_id", sa.Uuid),
    sa.Column("user_id", sa.Uuid),
    sa.Column("user_name", sa.String(255)),
    sa.Column("entity_type", _enum(EntityType)),
    sa.Column("entity_id", sa.Uuid, index=True),
    sa.Column("entity_name", sa.String(255)),
    sa.Column("action_type", _enum(ActionType), nullable=False),
    sa.Column("action_status", _enum(ActionStatus), nullable=False),
    sa.Column("action_data", sa.JSON, nullable=False),
    sa.Column("failure_details", sa.Text),
)

server_values = sa.Table(
    "server_values",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

attributes = sa.Table(
    "attributes",
    metadata,
    sa.Column(
        "device_id", sa.Uuid, sa.ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("scope", _enum(AttributeScope), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("value", sa.JSON),
    sa.Column("last_update_ts", sa.BigInteger, nullable=False),
)

telemetry = sa.Table(
    "telemetry",
    metadata,
    sa.Column(
        "device_id", sa.Uuid, sa.ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("ts", sa.BigInteger, primary_key=True),
    sa.Column("value", sa.JSON),
)

ota_queue = sa.Table(
    "ota_queue",
    metadata,
    _id(),
    _created(),
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column(
        "device_id", sa.Uuid, sa.ForeignKey("devices.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column(
        "package_id", sa.Uuid, sa.ForeignKey("ota_packages.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("package_type", _enum(OtaPackageType), nullable=False),
    sa.Column("assigned_ts", sa.BigInteger, nullable=False),
    sa.Column("state", _enum(QueueState), nullable=False),
    sa.Column("processed_ts", sa.BigInteger),
    sa.Index("ix_ota_queue_state_created", "state", "created_time"),
    sa.Index("ix_ota_queue_state_processed", "state", "processed_ts"),
)

# One row whose lock serialises the queue workers of all server processes.
ota_pace = sa.Table(
    "ota_pace",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
)

ota_states = sa.Table(
    "ota_states",
    metadata,
    sa.Column(
        "device_id", sa.Uuid, sa.ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("package_type", _enum(OtaPackageType), primary_key=True),
    sa.Column("tenant_id", sa.Uuid, nullable=False, index=True),
    # The target; None once unassigned (the last reported status stays).
    sa.Column(
        "package_id", sa.Uuid, sa.ForeignKey("ota_packages.id", ondelete="SET NULL"), index=True
    ),
    # What the device reported last, verbatim (IDLE and unknown strings included).
    sa.Column("status", sa.String(64), nullable=False),
    sa.Column("status_ts", sa.BigInteger, nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("retries", sa.Integer, nullable=False),
)

# A login: its access and refresh tokens name it, and are refused once it is gone (logout,
# password change, the user or their tenant deleted).
user_sessions = sa.Table(
    "user_sessions",
    metadata,
    _id(),
    _created(),
    sa.Column(
        "user_id",
        sa.Uuid,
        sa.ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("expires_ts", sa.BigInteger, nullable=False, index=True),
)

# Failed logins per account ("account:<email>") and per client address ("address:<ip>").
login_failures = sa.Table(
    "login_failures",
    metadata,
    sa.Column("key", sa.String(320), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("first_ts", sa.BigInteger, nullable=False),
    sa.Column("locked_until", sa.BigInteger, nullable=False),
)

# Addresses a user logged in from, so that a lockout of their account spares them.
known_logins = sa.Table(
    "known_logins",
    metadata,
    sa.Column("user_id", sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("address", sa.String(64), primary_key=True),
    sa.Column("last_ts", sa.BigInteger, nullable=False),
)
