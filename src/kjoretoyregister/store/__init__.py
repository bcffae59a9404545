"""Database engine, session factory and migrations shared by konfig and audit."""
