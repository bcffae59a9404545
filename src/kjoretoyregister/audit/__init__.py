"""Audit: per-item records written before every answer."""
