"""update queue and states

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pace = op.create_table(
        "ota_pace",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ota_pace")),
    )
    # The one row whose lock serialises the queue workers.
    op.bulk_insert(pace, [{"id": 1}])
    op.create_table(
        "ota_queue",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("package_id", sa.Uuid(), nullable=False),
        sa.Column(
            "package_type",
            sa.Enum("FIRMWARE", "SOFTWARE", name="otapackagetype", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("assigned_ts", sa.BigInteger(), nullable=False),
        sa.Column(
            "state",
            sa.Enum("PENDING", "DONE", "SKIPPED", name="queuestate", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("processed_ts", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_ota_queue_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["package_id"],
            ["ota_packages.id"],
            name=op.f("fk_ota_queue_package_id_ota_packages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ota_queue")),
    )
    op.create_index(
        "ix_ota_queue_state_created", "ota_queue", ["state", "created_time"], unique=False
    )
    op.create_index(
        "ix_ota_queue_state_processed", "ota_queue", ["state", "processed_ts"], unique=False
    )
    op.create_table(
        "ota_states",
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column(
            "package_type",
            sa.Enum("FIRMWARE", "SOFTWARE", name="otapackagetype", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("package_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=64), nullable=False),
        sa.Column("status_ts", sa.BigInteger(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_ota_states_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["package_id"],
            ["ota_packages.id"],
            name=op.f("fk_ota_states_package_id_ota_packages"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("device_id", "package_type", name=op.f("pk_ota_states")),
    )
    op.create_index(op.f("ix_ota_states_package_id"), "ota_states", ["package_id"], unique=False)
    op.create_index(op.f("ix_ota_states_tenant_id"), "ota_states", ["tenant_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_ota_states_tenant_id"), table_name="ota_states")
    op.drop_index(op.f("ix_ota_states_package_id"), table_name="ota_states")
    op.drop_table("ota_states")
    op.drop_index("ix_ota_queue_state_processed", table_name="ota_queue")
    op.drop_index("ix_ota_queue_state_created", table_name="ota_queue")
    op.drop_table("ota_queue")
    op.drop_table("ota_pace")
