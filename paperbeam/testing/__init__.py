"""Helpers for testing paperbeam and its plugins (``contract``: the plugin contract suite)."""
