"""Embedded OpenSearch node for development and tests."""
