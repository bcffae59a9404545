"""Client library for fagsystem developers."""
