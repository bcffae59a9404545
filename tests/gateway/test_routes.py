"""Route matching: only the known SVV paths, and no way for a segment to add a path level."""

from __future__ import annotations

import pytest

from kjoretoyregister.gateway.errors import MethodNotAllowed, RouteNotFound
from kjoretoyregister.gateway.routes import ROUTES, match
from kjoretoyregister.konfig.privileges import EIERSOK, OPPSLAG

ORG = "3f1c1b1e-9a8b-4c3d-8e7f-0123456789ab"
BASE = f"/kjoretoyregister/api/{ORG}/rest/distribusjon/kjoretoy/v2.0"


class TestKnownRoutes:
    def test_ten_routes_with_their_privileges(self) -> None:
        """bulk/* and the two vehicle searches need OPPSLAG; owner searches need EIERSOK."""
        oppslag = {n for n, r in ROUTES.items() if r.privilege == OPPSLAG}
        eiersok = {n for n, r in ROUTES.items() if r.privilege == EIERSOK}
        assert oppslag == {
            "bulk/kjennemerke",
            "bulk/kuid",
            "bulk/understellsnummer",
            "sok/kjennemerke",
            "sok/understellsnummer",
        }
        assert eiersok == {
            "sok/fodselsnummer",
            "sok/organisasjonsnummer",
            "sok/kundeid",
            "sok/eiernavn",
            "sok/kunde",
        }

    def test_match_bulk_and_sok(self) -> None:
        m = match("POST", f"{BASE}/bulk/kjennemerke")
        assert (m.route.name, m.fiks_org_id, m.path_identifier) == ("bulk/kjennemerke", ORG, None)
        assert match("GET", f"{BASE}/sok/eiernavn").upstream_path() == (
            "/rest/distribusjon/kjoretoy/v2.0/sok/eiernavn"
        )

    def test_template_has_no_identifier(self) -> None:
        m = match("GET", f"{BASE}/bulk/understellsnummer/SISDINKY45727043")
        assert m.route.template.endswith("/bulk/understellsnummer/{understellsnummer}")
        assert "SISDINKY" not in m.route.template


class TestTraversal:
    @pytest.mark.parametrize(
        "segment",
        ["..%2F..%2Fadmin", "%2e%2e%2f%2e%2e%2fadmin", "a%2Fb", "%2F", "..%5Cadmin"],
    )
    def test_encoded_slashes_stay_in_one_segment(self, segment: str) -> None:
        """The free segment is decoded then re-quoted with safe='': no '/' survives upstream."""
        m = match("GET", f"{BASE}/bulk/understellsnummer/{segment}")
        upstream = m.upstream_path()
        assert upstream.count(
            "/"
        ) == "/rest/distribusjon/kjoretoy/v2.0/bulk/understellsnummer/x".count("/")
        assert ".." not in upstream.split("/")

    @pytest.mark.parametrize(
        "path",
        [
            f"{BASE}/bulk/understellsnummer/../../admin",
            f"{BASE}/bulk/understellsnummer/",
            f"{BASE}/bulk/understellsnummer/A/B",
            f"{BASE}/bulk/kjennemerke/extra",
            f"{BASE}/sok/eiernavn/",
            f"{BASE}/sok/ukjent",
            f"{BASE}/admin/x",
            f"/kjoretoyregister/api/{ORG}/rest/distribusjon/kjoretoy/v1.0/bulk/kjennemerke",
            "/kjoretoyregister/api/%2e%2e/rest/distribusjon/kjoretoy/v2.0/bulk/kjennemerke",
            "/ws/no/vegvesen/kjoretoy/felles/v2/rest/distribusjon/kjoretoy/v2.0/bulk/kjennemerke",
            "/",
        ],
    )
    def test_unknown_paths_are_404(self, path: str) -> None:
        with pytest.raises(RouteNotFound):
            match("GET" if "understellsnummer" in path or "sok" in path else "POST", path)


def test_wrong_method_is_405() -> None:
    with pytest.raises(MethodNotAllowed):
        match("GET", f"{BASE}/bulk/kjennemerke")
