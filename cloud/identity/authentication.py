"""DRF authentication: `X-Auth-Token` for clients, the Django session for browsers.

Both set `request.auth` to a RequestContext; views read the project and roles
from it, never from the request body.
"""

from rest_framework import authentication, exceptions

from cloud.identity.models import User
from cloud.identity.selectors import session_context, token_context
from cloud.identity.services import token_digest


class TokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        secret = request.META.get("HTTP_X_AUTH_TOKEN")
        if not secret:
            return None
        context = token_context(digest=token_digest(secret))
        if context is None:
            raise exceptions.AuthenticationFailed(
                "The request you have made requires authentication."
            )
        return User(id=context.user_id, username=context.user_name), context

    def authenticate_header(self, request):
        return 'Keystone uri="/identity/v3"'


class ProjectSessionAuthentication(authentication.SessionAuthentication):
    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None:
            return None
        user, _ = result
        context = session_context(user=user)
        if context is None:
            raise exceptions.PermissionDenied("This user has no role on any enabled project.")
        return user, context
