"""Audit: per-item records written before every answer, hash-chained, searchable, purgeable.

The path of one gateway request: ``gateway`` builds an :class:`events.AuditEvent` and awaits
``sink.record(event)`` → :mod:`writer` (``DurableAuditSink``: queue → one writer thread →
:mod:`pseudonyms` seals identifiers and pseudonymises subjects → chain head locked → entries
appended with :mod:`chain` hashes → one commit per batch) → the caller's future resolves and
the gateway answers; a failed commit raises ``AuditUnavailable`` and the gateway answers 503.

Modules:

- ``events``     the event contract and ``AuditSink`` protocol (owned with the gateway)
- ``sinks``      in-memory and no-op sinks (tests, benchmarks)
- ``models``     the tables (``audit_entry``, ``audit_item``, ``audit_subject``, the subject
  index and its mark, chain head, checkpoints) on the shared ``store`` Base
- ``pseudonyms`` keyed pseudonyms (HMAC-SHA256) and sealed identifiers (AES-GCM)
- ``chain``      pure hashing and tamper checks
- ``encode``     events and reads as chain rows (sealed identifiers, subject pseudonyms)
- ``writer``     the durable group-commit sink and the chain append
- ``subject_index`` the pseudonym index innsyn reads, kept up after the answer
- ``verify``     walks the stored chain; compares exported checkpoints
- ``query``      search/export, innsyn, usage — each read audited itself
- ``retention``  checkpoints and purge (the chain keeps an anchor)
- ``admin_api``  an aiohttp sub-app: an org administrator's view of its own log
- ``cli``        ``kjoretoyregister audit …``
"""
