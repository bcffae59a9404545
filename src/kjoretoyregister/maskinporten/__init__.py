"""Maskinporten stand-in: a local token service that behaves like Digdir's."""
