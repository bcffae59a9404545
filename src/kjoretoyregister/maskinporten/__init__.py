"""Maskinporten stand-in: a local token service that behaves like Digdir's.

A token request's path through the modules::

    app.py      POST /token: form → grant_type/assertion
      grants.py   parse_assertion → authenticate (alg, kid|x5c, client, signature)
                  → check_claims (aud, iat/exp, jti, unknown claims)
      replay.py   jti seen before? (this process, or Redis shared by N instances)
                  → authorize (client scopes, or consumer_org delegation)
      tokens.py   access token claims, RS256 signature with the active key, response body
      errors.py   every refusal: {error, error_description} with an MP-nnn code

    state.py    the state directory: signing keys, clients, delegations, test CA
    keys.py     RSA keys, PEM files (0600), JWK form, RFC 7638 thumbprint kids
    certs.py    test CA, virksomhetssertifikat, x5c chain validation, orgnr from the subject
    testing.py  helpers for tests and demos (clients, certificates, grants, a running server)
    cli.py      `kjoretoyregister maskinporten …`: serve and the admin commands

The client side (building the grant, caching tokens) lives in
:mod:`kjoretoyregister.client.maskinporten`.
"""
