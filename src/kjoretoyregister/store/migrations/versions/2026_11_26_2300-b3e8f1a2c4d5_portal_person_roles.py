"""portal person roles: person × organisation × role (OPPSLAG, EIERSOK, ADMIN)

Revision ID: b3e8f1a2c4d5
Revises: a7d1c0de6a01
Create Date: 2026-11-26 23:00:00

Written by hand from ``kjoretoyregister.portal.models``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b3e8f1a2c4d5"
down_revision: str | None = "a7d1c0de6a01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "person_rolle",
        sa.Column("pid_pseudonym", sa.String(length=64), nullable=False),
        sa.Column("fiks_org_id", sa.Uuid(), nullable=False),
        sa.Column("rolle", sa.String(length=16), nullable=False),
        sa.Column("navn", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["fiks_org_id"],
            ["fiks_organisasjon.id"],
            name=op.f("fk_person_rolle_fiks_org_id_fiks_organisasjon"),
        ),
        sa.PrimaryKeyConstraint(
            "pid_pseudonym", "fiks_org_id", "rolle", name=op.f("pk_person_rolle")
        ),
    )
    op.create_index(op.f("ix_person_rolle_fiks_org_id"), "person_rolle", ["fiks_org_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_person_rolle_fiks_org_id"), table_name="person_rolle")
    op.drop_table("person_rolle")
