"""The consoles app's API views (routed in cloud.instances.api.urls with the compute API)."""
