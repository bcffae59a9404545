"""audit subject index maintained after the answer

Revision ID: e6f3c9a4b523
Revises: d5e2b8f3a412
Create Date: 2026-12-07 16:00:00

Written by hand from ``kjoretoyregister.audit.models``. ``audit_subject`` loses its index on
``pseudonym``; ``audit_subject_index`` (keyed by the pseudonym's first 64 bits) takes its
place, filled here from the subjects already stored, with the mark at the chain head
(everything stored so far is indexed).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kjoretoyregister.store.db import hex64_sql

revision: str = "e6f3c9a4b523"
down_revision: str | None = "d5e2b8f3a412"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_subject_index",
        sa.Column("key", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("entry_seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("pos", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("role", sa.String(length=1), nullable=False),
        sa.PrimaryKeyConstraint(
            "key", "entry_seq", "pos", "role", name=op.f("pk_audit_subject_index")
        ),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_audit_subject_index_entry_seq", "audit_subject_index", ["entry_seq"])
    op.create_table(
        "audit_index_mark",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_index_mark")),
    )
    key = hex64_sql(op.get_bind().dialect.name, "pseudonym")
    op.execute(
        f"INSERT INTO audit_subject_index (key, entry_seq, pos, role) "  # noqa: S608 - ours
        f"SELECT DISTINCT {key}, entry_seq, pos, role FROM audit_subject"
    )
    op.execute("INSERT INTO audit_index_mark (id, seq) SELECT 1, seq FROM audit_chain_head")
    op.drop_index("ix_audit_subject_pseudonym", table_name="audit_subject")


def downgrade() -> None:
    op.create_index("ix_audit_subject_pseudonym", "audit_subject", ["pseudonym"])
    op.drop_table("audit_index_mark")
    op.drop_index("ix_audit_subject_index_entry_seq", table_name="audit_subject_index")
    op.drop_table("audit_subject_index")
