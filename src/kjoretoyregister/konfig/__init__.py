"""Fiks Konfigurasjon: organisations, service activation, integrations and grants."""
