"""Studies: scripts that measure what the docs report (each says how it is run)."""
