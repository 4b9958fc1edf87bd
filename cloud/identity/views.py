"""The base views of every authenticated API: the caller's RequestContext and the
policy checks on it (cloud.identity.policy)."""

from rest_framework.views import APIView

from cloud.api.views import MicroversionMixin
from cloud.identity import policy
from cloud.identity.context import RequestContext


class OpenStackView(APIView):
    """A view whose request.auth is a RequestContext."""

    @property
    def context(self) -> RequestContext:
        return self.request.auth

    def authorize(self, rule: str, target: dict | None = None) -> None:
        """403 unless the named policy rule allows the caller (target: own project by default)."""
        policy.authorize(self.context, rule, target)

    def allowed(self, rule: str, target: dict | None = None) -> bool:
        return policy.allowed(self.context, rule, target)


class ComputeView(MicroversionMixin, OpenStackView):
    """Compute API view: negotiates the microversion before anything else."""
