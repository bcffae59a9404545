"""audit chain: entries, items, subject pseudonyms, chain head, checkpoints

Revision ID: a7d1c0de6a01
Revises: 80ee9052c3b2
Create Date: 2026-11-26 22:40:00

Written by hand from ``kjoretoyregister.audit.models``. Seeds the chain head row (id 1) at
the genesis hash: writers lock that row to append, so it must exist before the first write.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a7d1c0de6a01"
down_revision: str | None = "80ee9052c3b2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = "0" * 64


def upgrade() -> None:
    op.create_table(
        "audit_entry",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("correlation_id", sa.String(length=64), nullable=False),
        sa.Column("fiks_org_id", sa.String(length=64), nullable=True),
        sa.Column("integrasjon_id", sa.String(length=64), nullable=True),
        sa.Column("consumer_orgnr", sa.String(length=16), nullable=True),
        sa.Column("supplier_orgnr", sa.String(length=16), nullable=True),
        sa.Column("client_id", sa.String(length=200), nullable=True),
        sa.Column("endpoint", sa.String(length=200), nullable=True),
        sa.Column("method", sa.String(length=10), nullable=True),
        sa.Column("svv_status", sa.Integer(), nullable=True),
        sa.Column("svvguid", sa.String(length=100), nullable=True),
        sa.Column("latency_us", sa.BigInteger(), nullable=True),
        sa.Column("purpose", sa.String(length=500), nullable=True),
        sa.Column("case_reference", sa.String(length=200), nullable=True),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=True),
        sa.Column("action", sa.String(length=50), nullable=True),
        sa.Column("query", sa.Text(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_entry")),
    )
    op.create_index("ix_audit_entry_time", "audit_entry", ["time"])
    op.create_index("ix_audit_entry_fiks_org_id_time", "audit_entry", ["fiks_org_id", "time"])
    op.create_table(
        "audit_item",
        sa.Column("entry_seq", sa.BigInteger(), nullable=False),
        sa.Column("pos", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("identifier_type", sa.String(length=64), nullable=False),
        sa.Column("identifier_sealed", sa.Text(), nullable=False),
        sa.Column("dtg", sa.String(length=40), nullable=True),
        sa.Column("outcome", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_seq"], ["audit_entry.seq"], name=op.f("fk_audit_item_entry_seq_audit_entry")
        ),
        sa.PrimaryKeyConstraint("entry_seq", "pos", name=op.f("pk_audit_item")),
    )
    op.create_table(
        "audit_subject",
        sa.Column("entry_seq", sa.BigInteger(), nullable=False),
        sa.Column("pos", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("role", sa.String(length=1), nullable=False),
        sa.Column("pseudonym", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_seq"],
            ["audit_entry.seq"],
            name=op.f("fk_audit_subject_entry_seq_audit_entry"),
        ),
        sa.PrimaryKeyConstraint(
            "entry_seq", "pos", "role", "pseudonym", name=op.f("pk_audit_subject")
        ),
    )
    op.create_index("ix_audit_subject_pseudonym", "audit_subject", ["pseudonym"])
    head = op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("base_seq", sa.BigInteger(), nullable=False),
        sa.Column("base_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_head")),
    )
    op.bulk_insert(
        head, [{"id": 1, "seq": 0, "hash": GENESIS, "base_seq": 0, "base_hash": GENESIS}]
    )
    op.create_table(
        "audit_checkpoint",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("entry_count", sa.BigInteger(), nullable=False),
        sa.Column("base_seq", sa.BigInteger(), nullable=False),
        sa.Column("base_hash", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoint")),
    )


def downgrade() -> None:
    op.drop_table("audit_checkpoint")
    op.drop_table("audit_chain_head")
    op.drop_index("ix_audit_subject_pseudonym", table_name="audit_subject")
    op.drop_table("audit_subject")
    op.drop_table("audit_item")
    op.drop_index("ix_audit_entry_fiks_org_id_time", table_name="audit_entry")
    op.drop_index("ix_audit_entry_time", table_name="audit_entry")
    op.drop_table("audit_entry")
