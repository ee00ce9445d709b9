"""An example third-party paperbeam plugin."""
