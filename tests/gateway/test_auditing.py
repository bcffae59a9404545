"""The audit's reading of bulk answers: the typed fast path says exactly what the generic one says.

``items_from_answer`` decodes bulk answers with msgspec into the few fields the audit needs and
falls back to a full orjson decode when an answer does not fit that shape. These tests hold the
two paths to the same outcomes, identities and vehicle ids, on the simulator's real answers and
on generated documents full of odd shapes.
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kjoretoyregister.audit.events import FOUND, HIDDEN, NOT_FOUND
from kjoretoyregister.gateway import auditing
from kjoretoyregister.svv import bulkrender
from kjoretoyregister.svv.register import Register
from kjoretoyregister.svv.validation import parse_bulk_body
from stack import ensure_register


def _generic(body: bytes) -> list[auditing.Found] | None:
    """The reference: decode everything, then the dict-walking rules."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return [auditing._element_outcome(e) for e in data] if isinstance(data, list) else None


def test_simulator_answers_take_the_fast_path_and_agree(tmp_path: Path) -> None:
    register = Register(ensure_register(tmp_path / "r.sqlite", vehicles=300, seed=3))
    try:
        plates = [*register.sample_kjennemerker(200, seed=1), "ZZ99999", "CU11297"]
        raw = orjson.dumps([{"kjennemerke": p} for p in plates])
        items = parse_bulk_body(raw, "kjennemerke", max_items=1000)
        body = bulkrender.render_bulk(register, "kjennemerke", items)
    finally:
        register.close()
    decoded = auditing._BULK_ANSWER.decode(body)  # the fast path accepts SVV's shape as is
    assert len(decoded) == len(plates)
    # Nothing of the decoded structs is left for the cyclic collector to track and walk.
    owned = decoded[-1].kjoretoy
    assert owned is not None and owned.eierskap is not None
    assert not any(gc.is_tracked(x) for x in (decoded[-1], owned, owned.eierskap))
    fast = auditing._bulk_outcomes(body)
    assert fast == _generic(body)
    assert fast is not None
    outcomes = [o for o, _, _ in fast]
    assert outcomes[-2] == NOT_FOUND and outcomes[-1] == FOUND
    assert outcomes.count(FOUND) >= 150  # the sample is of existing plates
    # CU11297: MØLLER BIL AS owns it, a person leases it; its plate, VIN and kuid are recorded
    _, idents, vehicles = fast[-1]
    assert "986130861" in idents and len(idents) == 2
    assert [k for k, _ in vehicles] == ["kjennemerke", "understellsnummer", "kuid"]


_text = st.one_of(st.none(), st.text(max_size=12), st.integers(-(2**53), 2**53), st.booleans())
_ident = st.one_of(st.from_regex(r"\A[0-9A-Z]{2,11}\Z"), st.just(""), st.none())


def _some(keys: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    return st.fixed_dictionaries({}, optional=keys)


def _documents(odd: bool) -> st.SearchStrategy[Any]:
    """Bulk answers: SVV's shape (strings or null where SVV has them), or with ``odd`` also
    numbers, booleans and scalars where objects belong, which the fast path must hand on."""
    value = st.one_of(_ident, _text) if odd else _ident

    def obj(keys: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
        return st.one_of(_some(keys), _text) if odd else st.one_of(_some(keys), st.none())

    party = obj(
        {
            "person": obj({"fodselsnummer": value}),
            "enhet": obj({"organisasjonsnummer": value}),
            "adresse": st.dictionaries(st.text(max_size=5), _text, max_size=3),
        }
    )
    kjoretoy = obj(
        {
            "kjoretoyId": obj({k: value for k in ("kjennemerke", "understellsnummer", "kuid")}),
            "eierskap": obj({r: party for r in ("eier", "medeier", "leasingtaker", "underenhet")}),
            "godkjenning": st.dictionaries(st.text(max_size=5), _text, max_size=3),
        }
    )
    koder = {"kode": st.one_of(value, st.sampled_from(["OPPLYSNINGER_UTILGJENGELIG", "X_UKJENT"]))}
    kode = obj(koder) if odd else _some(koder)
    element = _some(
        {
            "kjoretoy": kjoretoy,
            "responskoder": st.one_of(st.lists(kode, max_size=3), st.none()),
            "eksternReferanseId": _ident,
        }
    )
    if odd:
        return st.one_of(st.lists(st.one_of(element, _text), max_size=6), element)
    return st.lists(element, min_size=1, max_size=6)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_documents(odd=False))
def test_answers_in_svvs_shape_take_the_fast_path_and_agree(document: Any) -> None:
    body = orjson.dumps(document)
    auditing._BULK_ANSWER.decode(body)  # accepted: the typed path is what is being compared
    assert auditing._bulk_outcomes(body) == _generic(body)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_documents(odd=True))
def test_odd_documents_get_the_same_reading_as_the_generic_path(document: Any) -> None:
    body = orjson.dumps(document)
    assert auditing._bulk_outcomes(body) == _generic(body)


def test_not_json_is_none_on_both_paths() -> None:
    for body in (b"", b"<html>", b"[{]", b'"text"', b"{}"):
        assert auditing._bulk_outcomes(body) is None
        assert _generic(body) is None


def test_hidden_and_empty_identities() -> None:
    body = orjson.dumps(
        [
            {"responskoder": [{"kode": "OPPLYSNINGER_UTILGJENGELIG"}]},
            {"kjoretoy": {"eierskap": {"eier": {"person": {"fodselsnummer": ""}}}}},
        ]
    )
    fast = auditing._bulk_outcomes(body)
    assert fast == [(HIDDEN, [], []), (FOUND, [], [])] == _generic(body)
