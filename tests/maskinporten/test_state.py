"""State on disk: restarts keep keys and clients, rotation overlaps, files are private."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import aiohttp
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from kjoretoyregister.maskinporten import certs, keys
from kjoretoyregister.maskinporten.state import MaskinportenState
from kjoretoyregister.maskinporten.testing import make_client, make_grant, running

from .helpers import OTHER_ORG, SUPPLIER, post_grant


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def _jwks_kids(http: aiohttp.ClientSession, url: str) -> list[str]:
    async with http.get(url) as resp:
        return [k["kid"] for k in (await resp.json())["keys"]]


class TestPersistence:
    async def test_restart_with_the_same_state_dir_keeps_keys_and_clients(
        self, tmp_path: Path, rsa_keys: list[rsa.RSAPrivateKey]
    ) -> None:
        """A token issued before a restart still verifies after it; the client still works."""
        first = MaskinportenState.open(tmp_path / "mp")
        client = make_client(first, "fagsystem", SUPPLIER, private_key=rsa_keys[0])
        kid_before = first.signing_key.kid
        async with aiohttp.ClientSession() as http:
            async with running(first) as mp:
                grant = make_grant(
                    issuer=mp.issuer,
                    client_id=client.client_id,
                    private_key=client.private_key,
                    kid=client.kid,
                )
                token = (await post_grant(http, mp, grant)).body["access_token"]

            reopened = MaskinportenState.open(tmp_path / "mp")
            assert reopened.signing_key.kid == kid_before
            assert reopened.client("fagsystem") == first.client("fagsystem")
            async with running(reopened) as mp2:
                assert await _jwks_kids(http, mp2.jwks_url) == [kid_before]
                grant = make_grant(
                    issuer=mp2.issuer,
                    client_id=client.client_id,
                    private_key=client.private_key,
                    kid=client.kid,
                )
                assert (await post_grant(http, mp2, grant)).status == 200
        public = reopened.signing_key.private_key.public_key()
        jwt.decode(token, public, algorithms=["RS256"], audience="unspecified")

    def test_secret_files_are_0600_and_directories_0700(
        self, state: MaskinportenState, tmp_path: Path
    ) -> None:
        state.create_ca()
        root = state.state_dir
        assert _mode(root) == 0o700
        for pem in [*root.glob("signing/*.pem"), root / "ca" / "ca-key.pem"]:
            assert _mode(pem) == 0o600, pem
        assert _mode(root / "signing") == 0o700
        assert _mode(root / "ca") == 0o700

    def test_delegations_and_ca_survive_a_restart(self, state: MaskinportenState) -> None:
        make_client(state, "lev", SUPPLIER)
        state.add_delegation("lev", OTHER_ORG, ["ks:fiks"], source="https://altinn.test/")
        ca = state.create_ca()
        again = MaskinportenState.open(state.state_dir)
        assert again.delegation("lev", OTHER_ORG) == state.delegation("lev", OTHER_ORG)
        assert again.trust_anchors == [ca]

    async def test_running_server_sees_a_client_registered_by_another_process(
        self, state: MaskinportenState, rsa_keys: list[rsa.RSAPrivateKey]
    ) -> None:
        """The CLI writes the files; `serve` reads the change on its next request."""
        async with running(state) as mp, aiohttp.ClientSession() as http:
            other_process = MaskinportenState.open(state.state_dir)
            client = make_client(other_process, "late", SUPPLIER, private_key=rsa_keys[1])
            grant = make_grant(
                issuer=mp.issuer,
                client_id=client.client_id,
                private_key=client.private_key,
                kid=client.kid,
            )
            assert (await post_grant(http, mp, grant)).status == 200

    async def test_a_corrupt_state_file_keeps_the_last_good_copy(
        self, state: MaskinportenState, rsa_keys: list[rsa.RSAPrivateKey]
    ) -> None:
        """An operator's bad hand edit must not take the token service down."""
        client = make_client(state, "fagsystem", SUPPLIER, private_key=rsa_keys[0])
        good = (state.state_dir / "clients.json").read_bytes()
        async with running(state) as mp, aiohttp.ClientSession() as http:

            def grant() -> str:
                return make_grant(
                    issuer=mp.issuer,
                    client_id=client.client_id,
                    private_key=client.private_key,
                    kid=client.kid,
                )

            (state.state_dir / "clients.json").write_bytes(b"{ not json")
            assert (await post_grant(http, mp, grant())).status == 200
            (state.state_dir / "clients.json").write_bytes(good.replace(b"fagsystem", b"renamed"))
            assert (await post_grant(http, mp, grant())).code == "MP-100"


class TestRotation:
    async def test_old_key_stays_published_for_the_overlap_and_new_tokens_use_the_new_key(
        self, state: MaskinportenState, rsa_keys: list[rsa.RSAPrivateKey]
    ) -> None:
        client = make_client(state, "fagsystem", SUPPLIER, private_key=rsa_keys[0])
        old_kid = state.signing_key.kid
        clock_offset = [0.0]
        async with (
            running(state, clock=lambda: time.time() + clock_offset[0]) as mp,
            aiohttp.ClientSession() as http,
        ):
            # Rotated by another process, as `maskinporten key rotate` does.
            new_kid = MaskinportenState.open(state.state_dir).rotate_signing_key(overlap_s=3600)
            assert new_kid != old_kid
            assert sorted(await _jwks_kids(http, mp.jwks_url)) == sorted([old_kid, new_kid])

            grant = make_grant(
                issuer=mp.issuer,
                client_id=client.client_id,
                private_key=client.private_key,
                kid=client.kid,
            )
            token = (await post_grant(http, mp, grant)).body["access_token"]
            assert jwt.get_unverified_header(token)["kid"] == new_kid

            clock_offset[0] = 3601.0  # after the overlap: only the new key is left
            assert await _jwks_kids(http, mp.jwks_url) == [new_kid]

    def test_expired_keys_are_deleted_at_the_next_rotation(self, state: MaskinportenState) -> None:
        first = state.signing_key.kid
        now = int(time.time())
        second = state.rotate_signing_key(overlap_s=10, now=now)
        third = state.rotate_signing_key(overlap_s=10, now=now + 60)
        assert [k.kid for k in state.published_keys(now + 60)] == [second, third]
        assert not (state.state_dir / "signing" / f"{first}.pem").exists()
        assert [k.kid for k in MaskinportenState.open(state.state_dir).published_keys()] == [
            second,
            third,
        ]

    def test_default_overlap_comes_from_open(self, tmp_path: Path) -> None:
        state = MaskinportenState.open(tmp_path / "mp", key_overlap_s=0)
        old = state.signing_key.kid
        new = state.rotate_signing_key()
        assert [k.kid for k in state.published_keys(time.time() + 1)] == [new]
        assert old != new


class TestRegistration:
    @pytest.mark.parametrize(
        ("client_id", "orgnr", "scopes", "message"),
        [
            ("ok", "910000005", ["ks:fiks"], "organisation number"),
            ("ok", "12345678", ["ks:fiks"], "organisation number"),
            ("ok", SUPPLIER, [], "scope"),
            ("ok", SUPPLIER, ["has space"], "scope"),
            ("", SUPPLIER, ["ks:fiks"], "client_id"),
            ("bad id", SUPPLIER, ["ks:fiks"], "client_id"),
        ],
    )
    def test_bad_registration_is_a_value_error(
        self,
        state: MaskinportenState,
        client_id: str,
        orgnr: str,
        scopes: list[str],
        message: str,
    ) -> None:
        with pytest.raises(ValueError, match=message):
            state.register_client(client_id, orgnr, scopes)

    def test_keys_must_be_rsa_of_2048_bits(self, state: MaskinportenState) -> None:
        ec_pem = keys.public_pem(ec.generate_private_key(ec.SECP256R1()).public_key())  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="RSA"):
            state.register_client("c", SUPPLIER, ["ks:fiks"], public_key_pem=ec_pem)
        # A too-small key on purpose: registration must refuse it.
        small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
        with pytest.raises(ValueError, match="2048"):
            state.register_client(
                "c", SUPPLIER, ["ks:fiks"], public_key_pem=keys.public_pem(small.public_key())
            )

    def test_owner_cannot_change_and_kids_cannot_clash(
        self, state: MaskinportenState, rsa_keys: list[rsa.RSAPrivateKey]
    ) -> None:
        make_client(state, "c", SUPPLIER, private_key=rsa_keys[0], kid="k1")
        with pytest.raises(ValueError, match="another organisation"):
            state.register_client("c", OTHER_ORG, ["ks:fiks"])
        with pytest.raises(ValueError, match="already used"):
            make_client(state, "c", SUPPLIER, private_key=rsa_keys[1], kid="k1")

    def test_a_second_key_is_added_and_scopes_are_replaced(
        self, state: MaskinportenState, rsa_keys: list[rsa.RSAPrivateKey]
    ) -> None:
        first = make_client(state, "c", SUPPLIER, ["ks:fiks"], private_key=rsa_keys[0])
        second = make_client(state, "c", SUPPLIER, ["ks:fiks", "ks:x"], private_key=rsa_keys[1])
        client = state.client("c")
        assert client is not None
        assert [k.kid for k in client.keys] == [first.kid, second.kid]
        assert client.scopes == ("ks:fiks", "ks:x")

    def test_generated_kid_is_the_rfc7638_thumbprint(
        self, state: MaskinportenState, rsa_keys: list[rsa.RSAPrivateKey]
    ) -> None:
        client = make_client(state, "c", SUPPLIER, private_key=rsa_keys[0])
        assert client.kid == keys.thumbprint(rsa_keys[0].public_key())
        assert len(client.kid) == 43

    async def test_registered_certificate_works_with_kid(
        self, state: MaskinportenState, rsa_keys: list[rsa.RSAPrivateKey]
    ) -> None:
        """«kid: a pre-registered certificate or asymmetric key on the client»."""
        state.create_ca()
        cert = state.issue_certificate(SUPPLIER, rsa_keys[2].public_key())
        kid = state.register_client(
            "cert-kid", SUPPLIER, ["ks:fiks"], certificate_pem=certs.cert_pem(cert)
        )
        assert kid is not None
        async with running(state) as mp, aiohttp.ClientSession() as http:
            grant = make_grant(
                issuer=mp.issuer, client_id="cert-kid", private_key=rsa_keys[2], kid=kid
            )
            answer = await post_grant(http, mp, grant)
        assert answer.status == 200, answer.body

    def test_certificate_of_another_org_cannot_be_registered(
        self, state: MaskinportenState, rsa_keys: list[rsa.RSAPrivateKey]
    ) -> None:
        state.create_ca()
        cert = state.issue_certificate(OTHER_ORG, rsa_keys[2].public_key())
        with pytest.raises(ValueError, match="another organisation"):
            state.register_client("c", SUPPLIER, ["ks:fiks"], certificate_pem=certs.cert_pem(cert))

    def test_delegation_rules(self, state: MaskinportenState) -> None:
        make_client(state, "lev", SUPPLIER)
        with pytest.raises(ValueError, match="no client"):
            state.add_delegation("nobody", OTHER_ORG, ["ks:fiks"])
        with pytest.raises(ValueError, match="itself"):
            state.add_delegation("lev", SUPPLIER, ["ks:fiks"])
        state.add_delegation("lev", OTHER_ORG, ["ks:fiks"])
        state.add_delegation("lev", OTHER_ORG, ["ks:fiks", "ks:x"])  # replaces, not duplicates
        assert len(state.delegations) == 1
        assert state.remove_delegation("lev", OTHER_ORG)
        assert not state.remove_delegation("lev", OTHER_ORG)

    def test_create_ca_refuses_to_replace_without_overwrite(self, state: MaskinportenState) -> None:
        state.create_ca()
        with pytest.raises(FileExistsError):
            state.create_ca()
        replaced = state.create_ca(overwrite=True)
        assert state.trust_anchors == [replaced]

    def test_issue_certificate_needs_a_ca(
        self, state: MaskinportenState, rsa_keys: list[rsa.RSAPrivateKey]
    ) -> None:
        with pytest.raises(LookupError, match="ca create"):
            state.issue_certificate(SUPPLIER, rsa_keys[0].public_key())
