"""Studies that measure the design notes' claims on the bundled weights (docs/claims.md)."""
