"""manage.py commands of the network app."""
