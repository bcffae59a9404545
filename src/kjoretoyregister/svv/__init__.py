"""SVV (Autosys) simulator: a synthetic register served under SVV's felles/v2 API paths."""
