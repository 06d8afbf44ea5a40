"""Bridges to other LongCat-Video implementations, kept out of the core (which never imports this package)."""
