"""The domain: records, the event fold, decisions, governance, metadata, the palette.

Pure code: nothing here does I/O (no OpenSearch, no files, no network, no torch).
"""
