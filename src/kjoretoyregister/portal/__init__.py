"""Web portal for municipal employees and administrators."""
