"""Connectors: one module per source or sink."""
