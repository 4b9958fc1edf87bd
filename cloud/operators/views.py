"""/metrics for Prometheus, and the admin dashboard with its operator actions.

The dashboard's actions call the services the API's admin calls use (os-services
disable/enable, evacuate, os-resetState), under the staff user's admin context and
the request's id, so they are recorded as instance actions like the API's.
"""

import os

from django.conf import settings
from django.contrib import admin, messages
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_POST
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)
from rest_framework.exceptions import APIException

from cloud.hosts.selectors import node_find
from cloud.hosts.services import compute_service_update
from cloud.identity.context import RequestContext
from cloud.identity.selectors import token_context
from cloud.identity.services import token_digest
from cloud.instances.rebuild import server_evacuate
from cloud.instances.selectors import instance_live, instances_on_host
from cloud.instances.server_actions import server_reset_state
from cloud.operators.collectors import CloudCollector
from cloud.operators.selectors import dashboard


def _error(code: int, kind: str, message: str) -> JsonResponse:
    return JsonResponse({kind: {"code": code, "message": message}}, status=code)


def _metrics_allowed(request) -> bool | None:
    """True for an operator (address, staff session, admin token); False for a caller
    with credentials that are not an admin's; None for one with none."""
    if request.META.get("REMOTE_ADDR") in settings.METRICS_ALLOWED_ADDRESSES:
        return True
    if request.user.is_authenticated:
        return bool(request.user.is_staff)
    secret = request.META.get("HTTP_X_AUTH_TOKEN")
    if secret:
        context = token_context(digest=token_digest(secret))
        return bool(context and context.is_admin)
    return None


def metrics(request) -> HttpResponse:
    """The Prometheus exposition: this process's (or, under gunicorn with
    PROMETHEUS_MULTIPROC_DIR, every api process's) metrics, and the gauges read
    from the database and the broker now."""
    allowed = _metrics_allowed(request)
    if allowed is None:
        return _error(401, "unauthorized", "The request you have made requires authentication.")
    if not allowed:
        return _error(403, "forbidden", "Metrics are for operators (an admin token or staff).")
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(CloudCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def _context(request) -> RequestContext:
    """The staff user as an admin of the cloud (the admin site is the operators')."""
    user = request.user
    project = getattr(user, "default_project_id", None)
    return RequestContext(
        user_id=str(user.pk),
        user_name=user.get_username(),
        project_id=str(project) if project else "",
        project_name=None,
        roles=["admin", "member", "reader"],
    )


def dashboard_view(request):
    context = {
        **admin.site.each_context(request),
        "title": "Cloud dashboard",
        **dashboard(),
    }
    return TemplateResponse(request, "operators/dashboard.html", context)


def _back(request):
    return redirect("operators:dashboard")


@require_POST
def host_enable(request, host: str):
    node = node_find(host=host, node=None)
    if node is None:
        messages.error(request, f"Compute host {host} could not be found.")
        return _back(request)
    if request.POST.get("enable") == "1":
        compute_service_update(node=node, disabled=False)
        messages.success(request, f"{host} enabled for scheduling.")
        return _back(request)
    reason = request.POST.get("reason", "").strip()
    if not reason:
        messages.error(request, f"Give a reason to disable {host}.")
        return _back(request)
    compute_service_update(node=node, disabled=True, disabled_reason=reason[:255])
    messages.success(request, f"{host} disabled: {reason}")
    return _back(request)


@require_POST
def host_evacuate(request, host: str):
    context = _context(request)
    done, refused = 0, []
    for uuid, _domain in instances_on_host(host=host):
        instance = instance_live(uuid=uuid)
        if instance is None:
            continue
        try:
            server_evacuate(
                context=context, request_id=request.request_id, instance=instance, host=None
            )
            done += 1
        except APIException as exc:
            refused.append(f"{uuid}: {exc.detail}")
    if refused:
        messages.error(request, f"Not evacuated from {host}: " + "; ".join(refused))
    messages.info(request, f"{done} server(s) of {host} are being evacuated.")
    return _back(request)


@require_POST
def instance_reset_state(request, uuid: str):
    vm_state = request.POST.get("state", "error")
    instance = instance_live(uuid=uuid)
    if instance is None or vm_state not in ("active", "error"):
        messages.error(
            request, f"Instance {uuid} could not be found, or state {vm_state} is not active/error."
        )
        return _back(request)
    try:
        server_reset_state(
            context=_context(request),
            request_id=request.request_id,
            instance=instance,
            vm_state=vm_state,
        )
    except APIException as exc:
        messages.error(request, str(exc.detail))
        return _back(request)
    messages.success(request, f"Instance {uuid} reset to {vm_state}.")
    return _back(request)
