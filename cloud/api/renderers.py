"""The JSON renderer of every API: a response never fails because of one stored string.

Strings that are not valid Unicode (a lone UTF-16 surrogate, stored before the body
guard of cloud.api.bodies refused them, e.g. in a server's metadata on SQLite) cannot
be encoded to UTF-8, and DRF's renderer would turn a whole listing into a 500 for one
such row. Here such a document is written again with every non-ASCII character escaped
(`\\ud800`, as `ensure_ascii` does): the document stays valid JSON and shows the
stored value as it is, and every other row is served as usual. No data migration is
needed, and none would cover every column of every app that may hold such a string.
"""

from rest_framework.renderers import JSONRenderer


class _EscapingJSONRenderer(JSONRenderer):
    ensure_ascii = True


class SafeJSONRenderer(JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except UnicodeEncodeError:
            return _EscapingJSONRenderer().render(data, accepted_media_type, renderer_context)
