"""`get_item`: a dict's value by a key held in a variable (the resource class column)."""

from django import template

register = template.Library()


@register.filter
def get_item(mapping: dict, key: str):
    return mapping.get(key) if mapping else None
