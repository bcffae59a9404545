"""Data minimisation: cut SVV's answer down to what the grant's field policy allows.

Applied to a 200 answer after the audit items were taken from SVV's full answer (so innsyn
still finds every person the lookup returned) and before the answer leaves. Fail closed: only
the known wrapper fields of SVV's answer models survive, every record is pruned to the
policy's allow-list, and an answer whose shape is not SVV's raises :class:`NotMinimisable`
(the gateway then withholds it) instead of being passed through whole.
"""

from __future__ import annotations

from typing import Any

import orjson

from kjoretoyregister.konfig.feltpolicy import FieldPolicy, Tree

#: Wrapper fields of KjoretoyResponse / KjoretoysokResponse / KundeSokResponse that carry no
#: personal data (status codes, counts, SVV's internal reference).
_WRAPPER_SCALARS = frozenset(
    {"responskoder", "antallITreffliste", "antallTreffTotalt", "eksternReferanseId"}
)
_KUNDE_LISTS = frozenset({"kunder", "treffListe"})


class NotMinimisable(Exception):
    """SVV's answer is not in a shape the policy can be applied to."""


def minimise(body: bytes, policy: FieldPolicy) -> bytes:
    """SVV's JSON answer with only the fields ``policy`` allows."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise NotMinimisable("answer is not JSON") from None
    k_tree, c_tree = policy.kjoretoy_tree, policy.kunde_tree
    if isinstance(doc, list):
        out: Any = [_kjoretoy_response(r, k_tree) for r in doc]
    elif isinstance(doc, dict):
        out = _wrapper(doc, k_tree, c_tree)
    else:
        raise NotMinimisable("answer is neither an object nor a list")
    return orjson.dumps(out)


def _wrapper(doc: dict[str, Any], k_tree: Tree, c_tree: Tree) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if key in _WRAPPER_SCALARS:
            out[key] = value
        elif key == "kjoretoy" and isinstance(value, dict):  # one KjoretoyResponse
            out[key] = prune(value, k_tree)
        elif key in ("kjoretoy", "kjoretoyresponser"):  # KjoretoysokResponse
            out[key] = [_kjoretoy_response(r, k_tree) for r in _list(value)]
        elif key in _KUNDE_LISTS:
            out[key] = [prune(_dict(k), c_tree) for k in _list(value)]
        # any other key is not in SVV's models: dropped, not passed through
    return out


def _kjoretoy_response(value: Any, k_tree: Tree) -> dict[str, Any]:
    response = _dict(value)
    out = {k: v for k, v in response.items() if k in _WRAPPER_SCALARS}
    if "kjoretoy" in response:
        out["kjoretoy"] = prune(_dict(response["kjoretoy"]), k_tree)
    return out


def prune(value: dict[str, Any], tree: Tree) -> dict[str, Any]:
    """``value`` with only the paths of ``tree``; containers left empty are dropped."""
    out: dict[str, Any] = {}
    for key, sub in tree.items():
        if key not in value:
            continue
        if sub is True:  # allowed as a whole: kept as SVV sent it, null included
            out[key] = value[key]
        elif (kept := _prune_any(value[key], sub)) is not None:
            out[key] = kept
    return out


def _prune_any(value: Any, tree: Tree | bool) -> Any:
    if tree is True:
        return value
    assert isinstance(tree, dict)
    if isinstance(value, dict):
        kept = prune(value, tree)
        return kept or None
    if isinstance(value, list):
        items = [p for v in value if (p := _prune_any(v, tree)) is not None]
        return items or None
    # A scalar where the schema has an object: not SVV's shape; keep nothing of it.
    return None


def _dict(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise NotMinimisable("record is not an object")
    return value


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise NotMinimisable("record list is not a list")
    return value
