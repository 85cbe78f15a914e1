"""tagtrail: search-first tagging and retrieval for retail product photos."""

__version__ = "0.1.0"
