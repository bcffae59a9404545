"""grant field policy (data minimisation) and the policy an audit entry's answer was shaped by

Revision ID: c4d1a9e7f201
Revises: b3e8f1a2c4d5
Create Date: 2026-12-06 23:50:00

Written by hand from ``kjoretoyregister.konfig.models.Tilgang`` and
``kjoretoyregister.audit.models.AuditEntry``. Nullable columns: existing grants keep
passthrough and existing audit hashes stay valid (the chain hashes ``feltpolicy`` only
when it is set).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c4d1a9e7f201"
down_revision: str | None = "b3e8f1a2c4d5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("tilgang", sa.Column("feltpolicy", sa.String(length=80), nullable=True))
    op.add_column("tilgang", sa.Column("feltpolicy_felter", sa.Text(), nullable=True))
    op.add_column("audit_entry", sa.Column("feltpolicy", sa.String(length=80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_entry") as batch:
        batch.drop_column("feltpolicy")
    with op.batch_alter_table("tilgang") as batch:
        batch.drop_column("feltpolicy_felter")
        batch.drop_column("feltpolicy")
