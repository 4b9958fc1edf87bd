"""Scheduling: filters, weighers, passes, server groups and the scheduler task."""
