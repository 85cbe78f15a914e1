"""Use cases: what tagtrail does, one module each (ingest, retag, search, review, ...).

The API and the CLI call these; these call the domain, vision/tagging and the store.
"""
