"""What operators see of every process: request ids, structured logs, metrics.

The modules here import no Django (the compute worker uses them), and hook into
the frameworks generically (a Django middleware, Celery signals, a logging
filter), so a new route, task or process is covered without touching them.
"""
