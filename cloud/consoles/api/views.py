"""`GET /os-console-auth-tokens/{token}` (admin): what a console token grants, as Nova
shows it. Before 2.31 Nova showed only RDP tokens there; Stratus issues none, so every
token is refused before 2.31 as Nova refuses the others."""

from rest_framework.response import Response

from cloud.api.errors import BadRequest, NotFound
from cloud.consoles import selectors
from cloud.consoles.api import presenters
from cloud.identity.views import ComputeView


class ConsoleAuthTokenView(ComputeView):
    def get(self, request, token: str):
        self.authorize("os_compute_api:os-console-auth-tokens", {})
        if not self.version.at_least("2.31"):
            raise BadRequest("The requested console type details are not accessible")
        grant = selectors.console_token_get(token=token)
        if grant is None:
            raise NotFound("The token is invalid or has expired")
        return Response(presenters.console_auth_token(grant))
