"""portal sessions in the database (shared by every portal instance without Redis)

Revision ID: d5e2b8f3a412
Revises: c4d1a9e7f201
Create Date: 2026-12-07 06:00:00

Written by hand from ``kjoretoyregister.portal.models.PortalSessionRow``. The key is a hash
of the session cookie, never the cookie itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d5e2b8f3a412"
down_revision: str | None = "c4d1a9e7f201"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "portal_session",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_portal_session")),
    )
    op.create_index(op.f("ix_portal_session_expires_at"), "portal_session", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_portal_session_expires_at"), table_name="portal_session")
    op.drop_table("portal_session")
