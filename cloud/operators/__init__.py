"""The operators' app: the admin dashboard, /metrics and its collectors, queue depths."""
