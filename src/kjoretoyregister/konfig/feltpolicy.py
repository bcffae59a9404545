"""Field policies: which parts of SVV's answer a grant may see (data minimisation per grant).

A policy is two allow-lists of JSON paths in SVV's v2 names — one for ``Kjoretoy`` records,
one for ``Kunde`` records (owner searches) — with an id the audit log records:

* a **preset** (``parkering@1``): named, versioned, read from ``data/feltpolicy.json``. A
  published version never changes, so ``name@version`` in an audit entry always means the same
  field list; a changed list is a new version.
* a **custom** list (``egendefinert@<12 hex>``): the id is a hash of the sorted lists, so the
  same lists always get the same id and a changed list a new one.

A path keeps its whole subtree (``eierskap.eier.adresse``); lists are walked element by
element. Only paths that exist in SVV's schema are accepted, so a typo cannot silently
allow nothing (or everything).

No policy on a grant means today's byte-for-byte passthrough.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import orjson

from kjoretoyregister.konfig.errors import InvalidInput

CUSTOM = "egendefinert"

#: A compiled allow-list: ``True`` keeps the subtree, a dict keeps only the named children.
Tree = dict[str, "Tree | bool"]


class FeltpolicyError(InvalidInput):
    """An unknown preset or version, or a field path that is not in SVV's schema."""

    error_code = "KJR-KONFIG-FELTPOLICY"


@dataclass(frozen=True, slots=True)
class FieldPolicy:
    """One policy: its id (``parkering@1``, ``egendefinert@…``) and its two allow-lists."""

    id: str
    kjoretoy: tuple[str, ...]
    kunde: tuple[str, ...]
    beskrivelse: str = ""

    @property
    def is_preset(self) -> bool:
        return not self.id.startswith(CUSTOM + "@")

    def to_stored(self) -> tuple[str, str | None]:
        """``(tilgang.feltpolicy, tilgang.feltpolicy_felter)``: custom lists keep their paths."""
        if self.is_preset:
            return self.id, None
        return self.id, json.dumps({"kjoretoy": self.kjoretoy, "kunde": self.kunde})

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "beskrivelse": self.beskrivelse,
            "kjoretoy": list(self.kjoretoy),
            "kunde": list(self.kunde),
        }

    @property
    def kjoretoy_tree(self) -> Tree:
        return compile_tree(self.kjoretoy)

    @property
    def kunde_tree(self) -> Tree:
        return compile_tree(self.kunde)


@cache
def _catalogue() -> dict[str, dict[str, dict[str, Any]]]:
    text = resources.files("kjoretoyregister.konfig").joinpath("data/feltpolicy.json").read_text()
    presets: dict[str, dict[str, dict[str, Any]]] = json.loads(text)["presets"]
    return presets


def presets() -> list[FieldPolicy]:
    """Every published preset version, by name then version."""
    out = []
    for name, versions in sorted(_catalogue().items()):
        for version in sorted(versions, key=int):
            out.append(preset(name, int(version)))
    return out


def preset(name: str, version: int | None = None) -> FieldPolicy:
    """A preset by name; the newest version unless ``version`` is given.

    Raises:
        FeltpolicyError: no such preset or version (the message lists the valid ones).
    """
    catalogue = _catalogue()
    versions = catalogue.get(name)
    if versions is None:
        valid = ", ".join(sorted(catalogue))
        raise FeltpolicyError(f"unknown field policy preset {name!r}; valid presets: {valid}")
    if version is None:
        version = max(int(v) for v in versions)
    spec = versions.get(str(version))
    if spec is None:
        valid = ", ".join(sorted(versions, key=int))
        raise FeltpolicyError(f"preset {name!r} has no version {version}; valid versions: {valid}")
    return FieldPolicy(
        f"{name}@{version}", tuple(spec["kjoretoy"]), tuple(spec["kunde"]), spec["beskrivelse"]
    )


def parse_id(policy_id: str) -> FieldPolicy:
    """A preset from its id ``name@version`` (custom ids need their stored lists)."""
    name, sep, version = policy_id.partition("@")
    if not sep or not version.isdigit() or name == CUSTOM:
        raise FeltpolicyError(
            f"field policy id must be 'name@version' of a preset, e.g. 'parkering@1'; "
            f"got {policy_id!r}"
        )
    return preset(name, int(version))


def custom(kjoretoy: Sequence[str], kunde: Sequence[str]) -> FieldPolicy:
    """A custom policy from field paths; each must be a path in SVV's schema.

    Raises:
        FeltpolicyError: an unknown path (the message names it and how to list valid ones),
            or both lists empty.
    """
    k = tuple(sorted({p.strip() for p in kjoretoy if p.strip()}))
    c = tuple(sorted({p.strip() for p in kunde if p.strip()}))
    if not k and not c:
        raise FeltpolicyError(
            "a custom field policy needs at least one field path (--felt or --kundefelt)"
        )
    known_k, known_c = known_paths()
    for path, known, kind in [(p, known_k, "Kjoretoy") for p in k] + [
        (p, known_c, "Kunde") for p in c
    ]:
        if path not in known:
            raise FeltpolicyError(
                f"{path!r} is not a field path of SVV's {kind}; valid paths are listed by "
                f"'kjoretoyregister admin feltpolicy --felter'"
            )
    digest = hashlib.sha256(orjson.dumps([k, c])).hexdigest()[:12]
    return FieldPolicy(f"{CUSTOM}@{digest}", k, c, "Egendefinert feltliste")


def from_stored(policy_id: str | None, felter: str | None) -> FieldPolicy | None:
    """The policy a grant row holds, or None (no policy: passthrough)."""
    if not policy_id:
        return None
    return _from_stored(policy_id, felter)


@cache
def _from_stored(policy_id: str, felter: str | None) -> FieldPolicy:
    # Cached: the gateway resolves the policy on every call of a minimised grant.
    if policy_id.startswith(CUSTOM + "@"):
        lists = json.loads(felter or "{}")
        return FieldPolicy(
            policy_id,
            tuple(lists.get("kjoretoy", ())),
            tuple(lists.get("kunde", ())),
            "Egendefinert feltliste",
        )
    try:
        return parse_id(policy_id)
    except FeltpolicyError:
        # A stored id whose preset is gone (presets are never removed, but a downgrade could
        # do it): fail closed, the grant sees no record fields at all until an admin fixes it.
        return FieldPolicy(policy_id, (), (), "Ukjent forhåndsvalg: ingen felter slippes ut")


@cache
def compile_tree(paths: tuple[str, ...]) -> Tree:
    """Allow-list paths as a nested dict; a shorter path wins over a longer one under it."""
    root: Tree = {}
    for path in sorted(paths, key=lambda p: p.count(".")):
        node = root
        parts = path.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if child is True:
                break
            assert isinstance(child, dict)
            node = child
        else:
            node[parts[-1]] = True
    return root


@cache
def known_paths() -> tuple[frozenset[str], frozenset[str]]:
    """Every field path of SVV's ``Kjoretoy`` and ``Kunde`` (from the v2 models)."""
    # The client's models are SVV's v2 schema as pydantic classes (a leaf package, it imports
    # nothing of ours); reading their JSON schema keeps one copy of SVV's field names.
    from kjoretoyregister.client.models import Kjoretoy, Kunde

    return _paths_of(Kjoretoy.model_json_schema(by_alias=True)), _paths_of(
        Kunde.model_json_schema(by_alias=True)
    )


def _paths_of(schema: dict[str, Any]) -> frozenset[str]:
    defs = schema.get("$defs", {})
    out: set[str] = set()

    def visit(node: dict[str, Any], prefix: str, seen: frozenset[str]) -> None:
        ref = node.get("$ref")
        if ref:
            name = ref.rsplit("/", 1)[-1]
            if name in seen:  # recursive schema: stop
                return
            visit(defs[name], prefix, seen | {name})
            return
        for key in ("anyOf", "oneOf", "allOf"):
            for sub in node.get(key, ()):
                visit(sub, prefix, seen)
        if "items" in node:
            visit(node["items"], prefix, seen)
        for name, sub in node.get("properties", {}).items():
            path = f"{prefix}.{name}" if prefix else name
            out.add(path)
            visit(sub, path, seen)

    visit(schema, "", frozenset())
    return frozenset(out)
