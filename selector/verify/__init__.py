"""``selector verify``: evidence for a recommendation from real runs on loopback."""
