"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=True),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("user_name", sa.String(length=255), nullable=True),
        sa.Column(
            "entity_type",
            sa.Enum(
                "TENANT",
                "CUSTOMER",
                "USER",
                "DEVICE",
                "DEVICE_PROFILE",
                "OTA_PACKAGE",
                "AUDIT_LOG",
                name="entitytype",
                native_enum=False,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("entity_id", sa.Uuid(), nullable=True),
        sa.Column("entity_name", sa.String(length=255), nullable=True),
        sa.Column(
            "action_type",
            sa.Enum(
                "ADDED",
                "UPDATED",
                "DELETED",
                "ASSIGNED_TO_CUSTOMER",
                "UNASSIGNED_FROM_CUSTOMER",
                "OTA_PACKAGE_UPLOADED",
                "OTA_PACKAGE_ASSIGNED",
                "OTA_PACKAGE_UNASSIGNED",
                "CREDENTIALS_UPDATED",
                "LOGIN",
                name="actiontype",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "action_status",
            sa.Enum("SUCCESS", "FAILURE", name="actionstatus", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("action_data", sa.JSON(), nullable=False),
        sa.Column("failure_details", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_entity_id"), "audit_log", ["entity_id"], unique=False)
    op.create_index(op.f("ix_audit_log_tenant_id"), "audit_log", ["tenant_id"], unique=False)
    op.create_table(
        "server_values",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_server_values")),
    )
    op.create_table(
        "tenants",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("region", sa.String(length=255), nullable=True),
        sa.Column("additional_info", sa.JSON(), nullable=True),
        sa.Column("contact", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenants")),
    )
    op.create_table(
        "customers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("additional_info", sa.JSON(), nullable=True),
        sa.Column("contact", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_customers_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
    )
    op.create_index(op.f("ix_customers_tenant_id"), "customers", ["tenant_id"], unique=False)
    op.create_table(
        "ota_packages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("device_profile_id", sa.Uuid(), nullable=False),
        sa.Column(
            "type",
            sa.Enum("FIRMWARE", "SOFTWARE", name="otapackagetype", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("version", sa.String(length=255), nullable=False),
        sa.Column("tag", sa.String(length=255), nullable=True),
        sa.Column("url", sa.String(length=1024), nullable=True),
        sa.Column("file_name", sa.String(length=255), nullable=True),
        sa.Column("content_type", sa.String(length=255), nullable=True),
        sa.Column(
            "checksum_algorithm",
            sa.Enum(
                "MD5",
                "SHA256",
                "SHA384",
                "SHA512",
                "CRC32",
                "MURMUR3_32",
                "MURMUR3_128",
                name="checksumalgorithm",
                native_enum=False,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("checksum", sa.String(length=1020), nullable=True),
        sa.Column("data_size", sa.BigInteger(), nullable=True),
        sa.Column("data_sha256", sa.String(length=64), nullable=True),
        sa.Column("additional_info", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_ota_packages_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ota_packages")),
        sa.UniqueConstraint(
            "tenant_id", "title", "version", name="ota_package_tenant_title_version_unq_key"
        ),
    )
    op.create_index(
        op.f("ix_ota_packages_data_sha256"), "ota_packages", ["data_sha256"], unique=False
    )
    op.create_index(
        op.f("ix_ota_packages_device_profile_id"),
        "ota_packages",
        ["device_profile_id"],
        unique=False,
    )
    op.create_index(op.f("ix_ota_packages_tenant_id"), "ota_packages", ["tenant_id"], unique=False)
    op.create_table(
        "device_profiles",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("firmware_id", sa.Uuid(), nullable=True),
        sa.Column("software_id", sa.Uuid(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_device_profiles_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_profiles")),
        sa.UniqueConstraint("tenant_id", "name", name="uq_device_profiles_tenant_name"),
    )
    op.create_index(
        op.f("ix_device_profiles_firmware_id"), "device_profiles", ["firmware_id"], unique=False
    )
    op.create_index(
        op.f("ix_device_profiles_software_id"), "device_profiles", ["software_id"], unique=False
    )
    op.create_index(
        op.f("ix_device_profiles_tenant_id"), "device_profiles", ["tenant_id"], unique=False
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=True),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column(
            "authority",
            sa.Enum(
                "SYS_ADMIN",
                "TENANT_ADMIN",
                "CUSTOMER_USER",
                name="authority",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("first_name", sa.String(length=255), nullable=True),
        sa.Column("last_name", sa.String(length=255), nullable=True),
        sa.Column("additional_info", sa.JSON(), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("activation_token", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_users_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_users_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("activation_token", name=op.f("uq_users_activation_token")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_index(op.f("ix_users_tenant_id"), "users", ["tenant_id"], unique=False)
    op.create_table(
        "devices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("device_profile_id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=255), nullable=False),
        sa.Column("label", sa.String(length=255), nullable=True),
        sa.Column("firmware_id", sa.Uuid(), nullable=True),
        sa.Column("software_id", sa.Uuid(), nullable=True),
        sa.Column("additional_info", sa.JSON(), nullable=True),
        sa.Column("device_data", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_devices_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["device_profile_id"],
            ["device_profiles.id"],
            name=op.f("fk_devices_device_profile_id_device_profiles"),
        ),
        sa.ForeignKeyConstraint(
            ["firmware_id"], ["ota_packages.id"], name=op.f("fk_devices_firmware_id_ota_packages")
        ),
        sa.ForeignKeyConstraint(
            ["software_id"], ["ota_packages.id"], name=op.f("fk_devices_software_id_ota_packages")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_devices_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_devices")),
        sa.UniqueConstraint("tenant_id", "name", name="uq_devices_tenant_name"),
    )
    op.create_index(op.f("ix_devices_customer_id"), "devices", ["customer_id"], unique=False)
    op.create_index(
        op.f("ix_devices_device_profile_id"), "devices", ["device_profile_id"], unique=False
    )
    op.create_index(op.f("ix_devices_firmware_id"), "devices", ["firmware_id"], unique=False)
    op.create_index(op.f("ix_devices_software_id"), "devices", ["software_id"], unique=False)
    op.create_index(op.f("ix_devices_tenant_id"), "devices", ["tenant_id"], unique=False)
    op.create_table(
        "device_credentials",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("credentials_id", sa.String(length=255), nullable=False),
        sa.Column("credentials_type", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_device_credentials_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_credentials")),
        sa.UniqueConstraint("credentials_id", name=op.f("uq_device_credentials_credentials_id")),
        sa.UniqueConstraint("device_id", name=op.f("uq_device_credentials_device_id")),
    )

    # Packages and profiles reference each other: the cycle is closed once both tables exist
    # (batch mode, because SQLite cannot add a constraint to an existing table).
    with op.batch_alter_table("ota_packages") as batch:
        batch.create_foreign_key(
            op.f("fk_ota_packages_device_profile_id_device_profiles"),
            "device_profiles",
            ["device_profile_id"],
            ["id"],
        )
    with op.batch_alter_table("device_profiles") as batch:
        for column in ("firmware_id", "software_id"):
            batch.create_foreign_key(
                op.f(f"fk_device_profiles_{column}_ota_packages"), "ota_packages", [column], ["id"]
            )


def downgrade() -> None:
    with op.batch_alter_table("device_profiles") as batch:
        batch.drop_constraint("fk_device_profiles_firmware_id_ota_packages", type_="foreignkey")
        batch.drop_constraint("fk_device_profiles_software_id_ota_packages", type_="foreignkey")
    op.drop_table("device_credentials")
    op.drop_index(op.f("ix_devices_tenant_id"), table_name="devices")
    op.drop_index(op.f("ix_devices_software_id"), table_name="devices")
    op.drop_index(op.f("ix_devices_firmware_id"), table_name="devices")
    op.drop_index(op.f("ix_devices_device_profile_id"), table_name="devices")
    op.drop_index(op.f("ix_devices_customer_id"), table_name="devices")
    op.drop_table("devices")
    op.drop_index(op.f("ix_users_tenant_id"), table_name="users")
    op.drop_table("users")
    op.drop_index(op.f("ix_device_profiles_tenant_id"), table_name="device_profiles")
    op.drop_index(op.f("ix_device_profiles_software_id"), table_name="device_profiles")
    op.drop_index(op.f("ix_device_profiles_firmware_id"), table_name="device_profiles")
    op.drop_table("device_profiles")
    op.drop_index(op.f("ix_ota_packages_tenant_id"), table_name="ota_packages")
    op.drop_index(op.f("ix_ota_packages_device_profile_id"), table_name="ota_packages")
    op.drop_index(op.f("ix_ota_packages_data_sha256"), table_name="ota_packages")
    op.drop_table("ota_packages")
    op.drop_index(op.f("ix_customers_tenant_id"), table_name="customers")
    op.drop_table("customers")
    op.drop_table("tenants")
    op.drop_table("server_values")
    op.drop_index(op.f("ix_audit_log_tenant_id"), table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_entity_id"), table_name="audit_log")
    op.drop_table("audit_log")
