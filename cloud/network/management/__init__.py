"""The network app's management commands."""
