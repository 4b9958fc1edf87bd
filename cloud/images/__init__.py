"""Images: the image catalogue and its Glance v2 API subset."""
