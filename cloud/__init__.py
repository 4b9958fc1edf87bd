"""Stratus: an OpenStack-compatible compute cloud controller."""
