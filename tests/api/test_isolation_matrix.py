"""The isolation and policy matrix: every API endpoint × every kind of caller, and the
exact status each gets.

Project alpha owns the targets. Its reader, member and admin, a member and an admin
of project beta (admins act across projects by design), and callers whose token is
missing, expired or revoked (an alpha admin's, so only the token's state can refuse
them) call each endpoint in ENDPOINTS: adding an endpoint is adding one row there, and
a route with no row fails `test_every_api_route_has_a_row`.

Beyond the status of each cell: another project's servers and server groups, and
another user's key pairs, are invisible (404 like a missing id, never 403, never
listed, no marker); an admin lists them only when asking (all_tenants, all_projects,
user_id); refusals are in OpenStack's error shape and never name the policy rule; a
refused request, and any read, writes nothing.

Database only: the world is built through the API once per module, in a transaction
that is never committed, so on_commit casts never fire and no broker or worker is
involved.
"""

import json
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.apps import apps
from django.db import connection, transaction
from django.urls import URLResolver, get_resolver, resolve
from django.utils import timezone
from rest_framework.permissions import AllowAny
from rest_framework.test import APIClient

from cloud.hosts.models import Aggregate, ComputeNode
from cloud.identity.models import DEFAULT_DOMAIN_ID, Domain, Role, Token
from cloud.identity.policies import list_rules
from cloud.identity.services import project_user_ensure, token_digest, token_revoke
from cloud.images.models import Image, ImageStatus, Visibility
from cloud.instances.management.commands.seed import TINY_IMAGE_ID, seed_catalog
from cloud.instances.models import Flavor, FlavorAccess, FlavorExtraSpec
from cloud.payloads import VolumeResult
from cloud.volumes import services as volume_services
from tests.helpers import PASSWORD, create_server, token_for

V = "/compute/v2.1"
N = "/network/v2.0"
VL = "/volume/v3/{project}"
LATEST = "compute 2.96"

READER, MEMBER, ADMIN = "reader", "member", "admin"
FOREIGN_MEMBER, FOREIGN_ADMIN = "foreign-member", "foreign-admin"
NO_TOKEN, EXPIRED, REVOKED = "no-token", "expired-token", "revoked-token"
SIGNED_IN = (READER, MEMBER, ADMIN, FOREIGN_MEMBER, FOREIGN_ADMIN)
CALLERS = (*SIGNED_IN, NO_TOKEN, EXPIRED, REVOKED)
ADMINS = {ADMIN, FOREIGN_ADMIN}

# caller: (project, username, role)
ACCOUNTS = {
    READER: ("alpha", "alpha-reader", "reader"),
    MEMBER: ("alpha", "alpha-member", "member"),
    ADMIN: ("alpha", "alpha-admin", "admin"),
    FOREIGN_MEMBER: ("beta", "beta-member", "member"),
    FOREIGN_ADMIN: ("beta", "beta-admin", "admin"),
}

DENIED = "You are not authorized to perform the requested action."
UNAUTHENTICATED = "The request you have made requires authentication."
NOVA_KEYS = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    409: "conflictingRequest",
    415: "badMediaType",
}
KEYSTONE_TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}


@dataclass(frozen=True)
class Endpoint:
    """One request, and the status each signed-in caller gets (the others always get 401).

    Paths, bodies and header values name fixtures in braces: {project} (alpha),
    {server} (alpha's server), {missing} (an id nobody has), {image}, {private_image}
    and {shared_image} (alpha's), {private_flavor}, {shared_flavor} (private, shared with
    alpha), {member_user}, {member_token} and {keypair} (alpha's member's), {own_token} (the
    caller's), {service} and {hypervisor} (a compute host), {group} (alpha's server group),
    {aggregate}, {domain} (the default one), {role} (member), and {spare_domain} and
    {spare_role} (unused, so they can go).
    """

    method: str
    path: str
    codes: tuple[int, int, int, int, int]  # reader, member, admin, foreign member, foreign admin
    body: dict | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def expected(self, caller: str) -> int:
        return dict(zip(SIGNED_IN, self.codes, strict=True)).get(caller, 401)


def row(method: str, path: str, *codes: int, body=None, subject: str = "") -> Endpoint:
    headers = {"HTTP_X_SUBJECT_TOKEN": subject} if subject else {}
    return Endpoint(method, path, codes, body, headers)


def public_key() -> str:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()


PATCH = "application/openstack-images-v2.1-json-patch"
NO_VOLUME = "6f1b2c3d-0000-4000-8000-00000000f00d"
BOOT = {"server": {"name": "m", "imageRef": TINY_IMAGE_ID, "flavorRef": "1", "networks": "none"}}
QUOTAS = {"quota_set": {"instances": 20}}
DISABLE = {"status": "disabled", "disabled_reason": "matrix"}
KEYPAIR = {"keypair": {"name": "new", "public_key": public_key()}}
KEYPAIR_FOR_MEMBER = {"keypair": {**KEYPAIR["keypair"], "user_id": "{member_user}"}}
KEYPAIRS = f"{V}/os-keypairs"
GROUP = {"server_group": {"name": "new", "policy": "anti-affinity"}}
AGGREGATE = f"{V}/os-aggregates/{{aggregate}}"
AS_MEMBER = "?user_id={member_user}"
TOKENS = "/identity/v3/auth/tokens"
ID = "/identity/v3"
GRANTS = f"{ID}/projects/{{project}}/users/{{member_user}}/roles"
DESCRIBED = {"description": "matrix"}
ACTION = f"{V}/servers/{{server}}/action"
REBOOT = {"reboot": {"type": "SOFT"}}
STOP = {"os-stop": None}
LOCK = {"lock": {"locked_reason": "matrix"}}
UNLOCK = {"unlock": None}
RESET = {"os-resetState": {"state": "error"}}
CONSOLE = {"os-getConsoleOutput": {"length": 5}}
RESIZE = {"resize": {"flavorRef": "2"}}
CONFIRM = {"confirmResize": None}
REVERT = {"revertResize": None}
FLAVOR = {"flavor": {"name": "new", "ram": 512, "vcpus": 1, "disk": 1}}
SPEC = "hw:cpu_policy"
METADATA = {"metadata": {"matrix": "changed"}}
REMOTE = {"remote_console": {"protocol": "vnc", "type": "novnc"}}
VNC = {"os-getVNCConsole": {"type": "novnc"}}

# fmt: off
ENDPOINTS = [
    #   method    path                                        reader member admin f.mem f.admin
    row("GET",    f"{V}/servers",                              200, 200, 200, 200, 200),
    row("GET",    f"{V}/servers?all_tenants=1",                403, 403, 200, 403, 200),
    row("POST",   f"{V}/servers",                              403, 202, 202, 202, 202, body=BOOT),
    row("GET",    f"{V}/servers/detail",                       200, 200, 200, 200, 200),
    row("GET",    f"{V}/servers/detail?all_tenants=1",         403, 403, 200, 403, 200),
    row("GET",    f"{V}/servers/{{server}}",                   200, 200, 200, 404, 200),
    row("GET",    f"{V}/servers/{{missing}}",                  404, 404, 404, 404, 404),
    row("DELETE", f"{V}/servers/{{server}}",                   403, 204, 204, 404, 204),
    row("DELETE", f"{V}/servers/{{missing}}",                  404, 404, 404, 404, 404),
    # Admins get past policy to the state check: the server is still building, on no host.
    row("GET",    f"{V}/servers/{{server}}/diagnostics",       403, 403, 409, 404, 409),
    row("GET",    f"{V}/servers/{{missing}}/diagnostics",      404, 404, 404, 404, 404),
    # The world's server is still building on no host: actions that need one are 409.
    row("POST",   ACTION,                                    403, 409, 409, 404, 409, body=REBOOT),
    row("POST",   ACTION,                                    403, 409, 409, 404, 409, body=STOP),
    row("POST",   ACTION,                                    403, 202, 202, 404, 202, body=LOCK),
    row("POST",   ACTION,                                    403, 202, 202, 404, 202, body=UNLOCK),
    row("POST",   ACTION,                                    403, 403, 202, 404, 202, body=RESET),
    row("POST",   ACTION,                                    403, 409, 409, 404, 409, body=CONSOLE),
    row("POST",   ACTION,                                    403, 409, 409, 404, 409, body=RESIZE),
    row("POST",   ACTION,                                    403, 409, 409, 404, 409, body=CONFIRM),
    row("POST",   ACTION,                                    403, 409, 409, 404, 409, body=REVERT),
    # Removed at 2.6 (the matrix calls at the latest microversion): no such action.
    row("POST",   ACTION,                                    404, 404, 404, 404, 404, body=VNC),
    row("POST",   f"{V}/servers/{{server}}/remote-consoles",   403, 409, 409, 404, 409,
        body=REMOTE),
    row("POST",   f"{V}/servers/{{missing}}/remote-consoles",  404, 404, 404, 404, 404,
        body=REMOTE),
    row("GET",    f"{V}/os-console-auth-tokens/{{missing}}",   403, 403, 404, 403, 404),
    row("POST",   f"{V}/servers/{{missing}}/action",           404, 404, 404, 404, 404, body=STOP),
    row("GET",    f"{V}/servers/{{server}}/os-instance-actions",  200, 200, 200, 404, 200),
    row("GET",    f"{V}/servers/{{missing}}/os-instance-actions", 404, 404, 404, 404, 404),
    row("GET",    f"{V}/servers/{{server}}/os-instance-actions/{{missing}}",
                                                                404, 404, 404, 404, 404),
    row("GET",    f"{V}/flavors",                              200, 200, 200, 200, 200),
    row("GET",    f"{V}/flavors/detail",                       200, 200, 200, 200, 200),
    row("GET",    f"{V}/flavors/1",                            200, 200, 200, 200, 200),
    row("GET",    f"{V}/flavors/{{private_flavor}}",           404, 404, 200, 404, 200),
    # A private flavor shared with alpha: alpha sees it, beta's member does not.
    row("GET",    f"{V}/flavors/{{shared_flavor}}",            200, 200, 200, 404, 200),
    row("POST",   f"{V}/flavors",                              403, 403, 200, 403, 200,
        body=FLAVOR),
    row("PUT",    f"{V}/flavors/1",                            403, 403, 200, 403, 200,
        body={"flavor": DESCRIBED}),
    row("DELETE", f"{V}/flavors/{{private_flavor}}",           403, 403, 202, 403, 202),
    row("GET",    f"{V}/flavors/1/os-extra_specs",             200, 200, 200, 200, 200),
    row("GET",    f"{V}/flavors/{{private_flavor}}/os-extra_specs", 404, 404, 200, 404, 200),
    row("POST",   f"{V}/flavors/1/os-extra_specs",             403, 403, 200, 403, 200,
        body={"extra_specs": {SPEC: "dedicated"}}),
    row("GET",    f"{V}/flavors/{{shared_flavor}}/os-extra_specs/{SPEC}",
                                                                200, 200, 200, 404, 200),
    row("PUT",    f"{V}/flavors/1/os-extra_specs/{SPEC}",      403, 403, 200, 403, 200,
        body={SPEC: "dedicated"}),
    row("DELETE", f"{V}/flavors/{{shared_flavor}}/os-extra_specs/{SPEC}",
                                                                403, 403, 200, 403, 200),
    row("GET",    f"{V}/flavors/{{shared_flavor}}/os-flavor-access", 403, 403, 200, 403, 200),
    row("POST",   f"{V}/flavors/{{private_flavor}}/action",    403, 403, 200, 403, 200,
        body={"addTenantAccess": {"tenant": "{project}"}}),
    row("POST",   f"{V}/flavors/{{shared_flavor}}/action",     403, 403, 200, 403, 200,
        body={"removeTenantAccess": {"tenant": "{project}"}}),
    # Metadata of alpha's server, still building: changes wait for it (409).
    row("GET",    f"{V}/servers/{{server}}/metadata",          200, 200, 200, 404, 200),
    row("POST",   f"{V}/servers/{{server}}/metadata",          403, 409, 409, 404, 409,
        body=METADATA),
    row("PUT",    f"{V}/servers/{{server}}/metadata",          403, 409, 409, 404, 409,
        body=METADATA),
    row("GET",    f"{V}/servers/{{server}}/metadata/matrix",   200, 200, 200, 404, 200),
    row("GET",    f"{V}/servers/{{server}}/metadata/missing",  404, 404, 404, 404, 404),
    row("PUT",    f"{V}/servers/{{server}}/metadata/matrix",   403, 409, 409, 404, 409,
        body={"meta": {"matrix": "no"}}),
    row("DELETE", f"{V}/servers/{{server}}/metadata/matrix",   403, 409, 409, 404, 409),
    row("GET",    "/image/v2/images",                          200, 200, 200, 200, 200),
    row("GET",    "/image/v2/images/{image}",                  200, 200, 200, 200, 200),
    row("GET",    "/image/v2/images/{private_image}",          200, 200, 200, 404, 200),
    row("POST",   "/image/v2/images",                          403, 201, 201, 201, 201,
        body={"name": "matrix-image"}),
    Endpoint("PATCH", "/image/v2/images/{private_image}",        (403, 200, 200, 404, 200),
             body=[{"op": "add", "path": "/k", "value": "v"}], headers={"content_type": PATCH}),
    row("PATCH",  "/image/v2/images/{private_image}",          403, 415, 415, 404, 415,
        body=[]),
    row("DELETE", "/image/v2/images/{private_image}",          403, 204, 204, 404, 204),
    row("PUT",    "/image/v2/images/{private_image}/file",     403, 409, 409, 404, 409),
    row("GET",    "/image/v2/images/{private_image}/file",     204, 204, 204, 404, 204),
    row("POST",   "/image/v2/images/{private_image}/actions/deactivate",
                                                                403, 204, 204, 404, 204),
    row("PUT",    "/image/v2/images/{private_image}/tags/t",   403, 204, 204, 404, 204),
    row("DELETE", "/image/v2/images/{private_image}/tags/t",   403, 404, 404, 404, 404),
    row("GET",    "/image/v2/images/{shared_image}/members",   200, 200, 200, 404, 200),
    row("POST",   "/image/v2/images/{shared_image}/members",   403, 200, 200, 404, 200,
        body={"member": "{missing}"}),
    row("GET",    "/image/v2/images/{shared_image}/members/{missing}",
                                                                404, 404, 404, 404, 404),
    row("PUT",    "/image/v2/images/{shared_image}/members/{missing}",
                                                                403, 404, 404, 404, 404,
        body={"status": "accepted"}),
    row("DELETE", "/image/v2/images/{shared_image}/members/{missing}",
                                                                403, 404, 404, 404, 404),
    row("GET",    f"{V}/os-quota-sets/{{project}}",            200, 200, 200, 403, 200),
    row("PUT",    f"{V}/os-quota-sets/{{project}}",            403, 403, 200, 403, 200,
        body=QUOTAS),
    row("DELETE", f"{V}/os-quota-sets/{{project}}",            403, 403, 202, 403, 202),
    row("GET",    f"{V}/os-quota-sets/{{project}}/detail",     200, 200, 200, 403, 200),
    row("GET",    f"{V}/os-quota-sets/{{project}}/defaults",   200, 200, 200, 200, 200),
    row("GET",    f"{V}/limits",                               200, 200, 200, 200, 200),
    row("GET",    f"{V}/os-migrations",                        403, 403, 200, 403, 200),
    row("GET",    f"{V}/limits?tenant_id={{project}}",         200, 200, 200, 403, 200),
    row("GET",    f"{V}/os-services",                          403, 403, 200, 403, 200),
    row("PUT",    f"{V}/os-services/{{service}}",              403, 403, 200, 403, 200,
        body=DISABLE),
    row("GET",    f"{V}/os-hypervisors",                       403, 403, 200, 403, 200),
    row("GET",    f"{V}/os-hypervisors/detail",                403, 403, 200, 403, 200),
    row("GET",    f"{V}/os-hypervisors/{{hypervisor}}",        403, 403, 200, 403, 200),
    row("GET",    f"{V}/os-availability-zone",                 200, 200, 200, 200, 200),
    row("GET",    f"{V}/os-availability-zone/detail",          403, 403, 200, 403, 200),
    row("GET",    f"{V}/os-server-groups",                     200, 200, 200, 200, 200),
    row("GET",    f"{V}/os-server-groups?all_projects=1",      403, 403, 200, 403, 200),
    row("POST",   f"{V}/os-server-groups",                     403, 200, 200, 200, 200,
        body=GROUP),
    row("GET",    f"{V}/os-server-groups/{{group}}",           200, 200, 200, 404, 200),
    row("GET",    f"{V}/os-server-groups/{{missing}}",         404, 404, 404, 404, 404),
    row("DELETE", f"{V}/os-server-groups/{{group}}",           403, 204, 204, 404, 204),
    row("DELETE", f"{V}/os-server-groups/{{missing}}",         404, 404, 404, 404, 404),
    row("GET",    f"{V}/os-aggregates",                        403, 403, 200, 403, 200),
    row("POST",   f"{V}/os-aggregates",                        403, 403, 200, 403, 200,
        body={"aggregate": {"name": "new"}}),
    row("GET",    AGGREGATE,                                   403, 403, 200, 403, 200),
    row("PUT",    AGGREGATE,                                   403, 403, 200, 403, 200,
        body={"aggregate": {"name": "renamed"}}),
    row("DELETE", AGGREGATE,                                   403, 403, 200, 403, 200),
    row("POST",   f"{AGGREGATE}/action",                       403, 403, 200, 403, 200,
        body={"add_host": {"host": "matrix-host"}}),
    row("POST",   f"{AGGREGATE}/action",                       403, 403, 200, 403, 200,
        body={"set_metadata": {"metadata": {"matrix": "yes"}}}),
    # Key pairs are their user's: another user's is 404 even in the same project.
    row("GET",    KEYPAIRS,                                    200, 200, 200, 200, 200),
    row("GET",    KEYPAIRS + AS_MEMBER,                        403, 200, 200, 403, 200),
    row("POST",   KEYPAIRS,                                    201, 201, 201, 201, 201,
        body=KEYPAIR),
    row("POST",   KEYPAIRS,                                    403, 201, 201, 403, 201,
        body=KEYPAIR_FOR_MEMBER),
    row("GET",    f"{KEYPAIRS}/{{keypair}}",                   404, 200, 404, 404, 404),
    row("GET",    f"{KEYPAIRS}/{{keypair}}{AS_MEMBER}",        403, 200, 200, 403, 200),
    row("DELETE", f"{KEYPAIRS}/{{keypair}}",                   404, 204, 404, 404, 404),
    row("DELETE", f"{KEYPAIRS}/{{keypair}}{AS_MEMBER}",        403, 204, 204, 403, 204),
    row("GET",    TOKENS,                                      200, 200, 200, 200, 200,
        subject="{own_token}"),
    row("GET",    TOKENS,                                      403, 200, 200, 403, 200,
        subject="{member_token}"),
    row("DELETE", TOKENS,                                      204, 204, 204, 204, 204,
        subject="{own_token}"),
    row("DELETE", TOKENS,                                      403, 204, 204, 403, 204,
        subject="{member_token}"),
    row("GET",    f"{ID}/auth/projects",                       200, 200, 200, 200, 200),
    row("GET",    f"{ID}/domains",                             403, 403, 200, 403, 200),
    row("POST",   f"{ID}/domains",                             403, 403, 201, 403, 201,
        body={"domain": {"name": "new"}}),
    row("GET",    f"{ID}/domains/{{domain}}",                  403, 403, 200, 403, 200),
    row("PATCH",  f"{ID}/domains/{{domain}}",                  403, 403, 200, 403, 200,
        body={"domain": DESCRIBED}),
    row("DELETE", f"{ID}/domains/{{spare_domain}}",            403, 403, 204, 403, 204),
    # Anyone may see their own project and themselves; the rest is for admins.
    row("GET",    f"{ID}/projects",                            403, 403, 200, 403, 200),
    row("POST",   f"{ID}/projects",                            403, 403, 201, 403, 201,
        body={"project": {"name": "new"}}),
    row("GET",    f"{ID}/projects/{{project}}",                200, 200, 200, 403, 200),
    row("GET",    f"{ID}/projects/{{missing}}",                403, 403, 404, 403, 404),
    row("PATCH",  f"{ID}/projects/{{project}}",                403, 403, 200, 403, 200,
        body={"project": DESCRIBED}),
    row("DELETE", f"{ID}/projects/{{project}}",                403, 403, 204, 403, 204),
    row("GET",    f"{ID}/users",                               403, 403, 200, 403, 200),
    row("POST",   f"{ID}/users",                               403, 403, 201, 403, 201,
        body={"user": {"name": "new", "password": PASSWORD}}),
    row("GET",    f"{ID}/users/{{member_user}}",               403, 200, 200, 403, 200),
    row("PATCH",  f"{ID}/users/{{member_user}}",               403, 403, 200, 403, 200,
        body={"user": DESCRIBED}),
    row("DELETE", f"{ID}/users/{{member_user}}",               403, 403, 204, 403, 204),
    row("GET",    f"{ID}/users/{{member_user}}/projects",      403, 200, 200, 403, 200),
    row("GET",    f"{ID}/roles",                               403, 403, 200, 403, 200),
    row("POST",   f"{ID}/roles",                               403, 403, 201, 403, 201,
        body={"role": {"name": "new"}}),
    row("GET",    f"{ID}/roles/{{role}}",                      403, 403, 200, 403, 200),
    row("PATCH",  f"{ID}/roles/{{spare_role}}",                403, 403, 200, 403, 200,
        body={"role": DESCRIBED}),
    row("DELETE", f"{ID}/roles/{{spare_role}}",                403, 403, 204, 403, 204),
    row("GET",    GRANTS,                                      403, 403, 200, 403, 200),
    row("PUT",    f"{GRANTS}/{{spare_role}}",                  403, 403, 204, 403, 204),
    row("GET",    f"{GRANTS}/{{role}}",                        403, 403, 204, 403, 204),
    row("DELETE", f"{GRANTS}/{{role}}",                        403, 403, 204, 403, 204),
    row("GET",    f"{ID}/role_assignments",                    403, 403, 200, 403, 200),
    # os-interface: the world's server is still building, so attach and detach are 409.
    row("GET",    f"{V}/servers/{{server}}/os-interface",      200, 200, 200, 404, 200),
    row("POST",   f"{V}/servers/{{server}}/os-interface",      403, 409, 409, 404, 409,
        body={"interfaceAttachment": {"net_id": "{network}"}}),
    row("GET",    f"{V}/servers/{{server}}/os-interface/{{port}}", 404, 404, 404, 404, 404),
    row("DELETE", f"{V}/servers/{{server}}/os-interface/{{port}}", 403, 409, 409, 404, 409),
    # os-volume_attachments: the world's server is building (attach and detach 409), and
    # has no volume (show and update 404).
    row("GET",    f"{V}/servers/{{server}}/os-volume_attachments", 200, 200, 200, 404, 200),
    row("POST",   f"{V}/servers/{{server}}/os-volume_attachments", 403, 409, 409, 404, 409,
        body={"volumeAttachment": {"volumeId": NO_VOLUME}}),
    row("GET",    f"{V}/servers/{{server}}/os-volume_attachments/{NO_VOLUME}",
        404, 404, 404, 404, 404),
    row("PUT",    f"{V}/servers/{{server}}/os-volume_attachments/{NO_VOLUME}",
        403, 404, 404, 404, 404,
        body={"volumeAttachment": {"volumeId": NO_VOLUME, "delete_on_termination": True}}),
    row("DELETE", f"{V}/servers/{{server}}/os-volume_attachments/{NO_VOLUME}",
        403, 409, 409, 404, 409),
    # The network API. Alpha owns {network} (with {subnet} and {port} on it), {sg} and
    # its {rule}, and {fip}; {public} is an external network and {shared} a shared one,
    # both of a third project: every project sees them, only admins change them.
    row("GET",    f"{N}/extensions",                           200, 200, 200, 200, 200),
    row("GET",    f"{N}/extensions/provider",                  200, 200, 200, 200, 200),
    row("GET",    f"{N}/networks",                             200, 200, 200, 200, 200),
    row("POST",   f"{N}/networks",                             403, 201, 201, 201, 201,
        body={"network": {"name": "new"}}),
    row("POST",   f"{N}/networks",                             403, 403, 201, 403, 201,
        body={"network": {"name": "new", "shared": True}}),
    row("POST",   f"{N}/networks",                             403, 403, 201, 403, 201,
        body={"network": {"name": "new", "provider:network_type": "vlan",
                          "provider:segmentation_id": 3001}}),
    row("GET",    f"{N}/networks/{{network}}",                 200, 200, 200, 404, 200),
    row("GET",    f"{N}/networks/{{public}}",                  200, 200, 200, 200, 200),
    row("GET",    f"{N}/networks/{{shared}}",                  200, 200, 200, 200, 200),
    row("GET",    f"{N}/networks/{{missing}}",                 404, 404, 404, 404, 404),
    row("PUT",    f"{N}/networks/{{network}}",                 403, 200, 200, 404, 200,
        body={"network": {"name": "renamed"}}),
    row("PUT",    f"{N}/networks/{{public}}",                  403, 403, 200, 403, 200,
        body={"network": {"name": "renamed"}}),
    row("DELETE", f"{N}/networks/{{network}}",                 403, 409, 409, 404, 409),
    row("DELETE", f"{N}/networks/{{shared}}",                  403, 403, 204, 403, 204),
    row("GET",    f"{N}/subnets",                              200, 200, 200, 200, 200),
    row("POST",   f"{N}/subnets",                              403, 201, 201, 404, 201,
        body={"subnet": {"network_id": "{network}", "cidr": "10.9.0.0/24", "ip_version": 4}}),
    row("POST",   f"{N}/subnets",                              403, 403, 201, 403, 201,
        body={"subnet": {"network_id": "{shared}", "cidr": "10.9.0.0/24", "ip_version": 4}}),
    row("GET",    f"{N}/subnets/{{subnet}}",                   200, 200, 200, 404, 200),
    row("GET",    f"{N}/subnets/{{public_subnet}}",            200, 200, 200, 200, 200),
    row("PUT",    f"{N}/subnets/{{subnet}}",                   403, 200, 200, 404, 200,
        body={"subnet": {"name": "renamed"}}),
    row("DELETE", f"{N}/subnets/{{subnet}}",                   403, 409, 409, 404, 409),
    row("GET",    f"{N}/ports",                                200, 200, 200, 200, 200),
    row("POST",   f"{N}/ports",                                403, 201, 201, 404, 201,
        body={"port": {"network_id": "{network}"}}),
    row("POST",   f"{N}/ports",                                403, 201, 201, 201, 201,
        body={"port": {"network_id": "{shared}"}}),
    row("POST",   f"{N}/ports",                                403, 403, 201, 403, 201,
        body={"port": {"network_id": "{public}"}}),
    row("GET",    f"{N}/ports/{{port}}",                       200, 200, 200, 404, 200),
    row("PUT",    f"{N}/ports/{{port}}",                       403, 200, 200, 404, 200,
        body={"port": {"name": "renamed"}}),
    row("DELETE", f"{N}/ports/{{port}}",                       403, 204, 204, 404, 204),
    row("GET",    f"{N}/security-groups",                      200, 200, 200, 200, 200),
    row("POST",   f"{N}/security-groups",                      403, 201, 201, 201, 201,
        body={"security_group": {"name": "new"}}),
    row("GET",    f"{N}/security-groups/{{sg}}",               200, 200, 200, 404, 200),
    row("PUT",    f"{N}/security-groups/{{sg}}",               403, 200, 200, 404, 200,
        body={"security_group": {"description": "matrix"}}),
    row("DELETE", f"{N}/security-groups/{{sg}}",               403, 204, 204, 404, 204),
    row("GET",    f"{N}/security-group-rules",                 200, 200, 200, 200, 200),
    row("POST",   f"{N}/security-group-rules",                 403, 201, 201, 404, 201,
        body={"security_group_rule": {"security_group_id": "{sg}", "direction": "ingress",
                                      "protocol": "tcp", "port_range_min": 80,
                                      "port_range_max": 80}}),
    row("GET",    f"{N}/security-group-rules/{{rule}}",        200, 200, 200, 404, 200),
    row("DELETE", f"{N}/security-group-rules/{{rule}}",        403, 204, 204, 404, 204),
    row("GET",    f"{N}/floatingips",                          200, 200, 200, 200, 200),
    row("POST",   f"{N}/floatingips",                          403, 201, 201, 201, 201,
        body={"floatingip": {"floating_network_id": "{public}"}}),
    row("GET",    f"{N}/floatingips/{{fip}}",                  200, 200, 200, 404, 200),
    row("PUT",    f"{N}/floatingips/{{fip}}",                  403, 200, 200, 404, 200,
        body={"floatingip": {"port_id": "{port}"}}),
    row("DELETE", f"{N}/floatingips/{{fip}}",                  403, 204, 204, 404, 204),
    row("GET",    f"{N}/quotas/{{project}}",                   200, 200, 200, 403, 200),
    row("GET",    f"{N}/quotas/{{project}}/details",           200, 200, 200, 403, 200),
    row("GET",    f"{N}/quotas/{{project}}/default",           200, 200, 200, 403, 200),
    row("PUT",    f"{N}/quotas/{{project}}",                   403, 403, 200, 403, 200,
        body={"quota": {"network": 50}}),
    row("DELETE", f"{N}/quotas/{{project}}",                   403, 403, 204, 403, 204),

    # The block-storage API. Alpha owns {volume} (available, metadata matrix=yes) and
    # {snapshot} (of another of its volumes); {vtype} is an unused type with the extra
    # spec matrix=yes. The URL's project is alpha's: the token decides what is seen.
    row("GET",    f"{VL}/volumes",                             200, 200, 200, 200, 200),
    row("POST",   f"{VL}/volumes",                             403, 202, 202, 202, 202,
        body={"volume": {"size": 1}}),
    row("GET",    f"{VL}/volumes/detail",                      200, 200, 200, 200, 200),
    row("GET",    f"{VL}/volumes/{{volume}}",                  200, 200, 200, 404, 200),
    row("GET",    f"{VL}/volumes/{{missing}}",                 404, 404, 404, 404, 404),
    row("PUT",    f"{VL}/volumes/{{volume}}",                  403, 200, 200, 404, 200,
        body={"volume": {"name": "renamed"}}),
    row("DELETE", f"{VL}/volumes/{{volume}}",                  403, 202, 202, 404, 202),
    row("POST",   f"{VL}/volumes/{{volume}}/action",           403, 202, 202, 404, 202,
        body={"os-extend": {"new_size": 2}}),
    row("POST",   f"{VL}/volumes/{{volume}}/action",           403, 403, 202, 404, 202,
        body={"os-reset_status": {"status": "error"}}),
    row("GET",    f"{VL}/volumes/{{volume}}/metadata",         200, 200, 200, 404, 200),
    row("POST",   f"{VL}/volumes/{{volume}}/metadata",         403, 200, 200, 404, 200,
        body={"metadata": {"k": "v"}}),
    row("PUT",    f"{VL}/volumes/{{volume}}/metadata",         403, 200, 200, 404, 200,
        body={"metadata": {"k": "v"}}),
    row("GET",    f"{VL}/volumes/{{volume}}/metadata/matrix",  200, 200, 200, 404, 200),
    row("PUT",    f"{VL}/volumes/{{volume}}/metadata/matrix",  403, 200, 200, 404, 200,
        body={"meta": {"matrix": "changed"}}),
    row("DELETE", f"{VL}/volumes/{{volume}}/metadata/matrix",  403, 200, 200, 404, 200),
    row("GET",    f"{VL}/snapshots",                           200, 200, 200, 200, 200),
    row("POST",   f"{VL}/snapshots",                           403, 202, 202, 404, 202,
        body={"snapshot": {"volume_id": "{volume}"}}),
    row("GET",    f"{VL}/snapshots/detail",                    200, 200, 200, 200, 200),
    row("GET",    f"{VL}/snapshots/{{snapshot}}",              200, 200, 200, 404, 200),
    row("PUT",    f"{VL}/snapshots/{{snapshot}}",              403, 200, 200, 404, 200,
        body={"snapshot": {"name": "renamed"}}),
    row("DELETE", f"{VL}/snapshots/{{snapshot}}",              403, 202, 202, 404, 202),
    row("POST",   f"{VL}/snapshots/{{snapshot}}/action",       403, 403, 202, 404, 202,
        body={"os-reset_status": {"status": "error"}}),
    row("GET",    f"{VL}/types",                               200, 200, 200, 200, 200),
    row("POST",   f"{VL}/types",                               403, 403, 200, 403, 200,
        body={"volume_type": {"name": "new"}}),
    row("GET",    f"{VL}/types/{{vtype}}",                     200, 200, 200, 200, 200),
    row("PUT",    f"{VL}/types/{{vtype}}",                     403, 403, 200, 403, 200,
        body={"volume_type": {"description": "changed"}}),
    row("DELETE", f"{VL}/types/{{vtype}}",                     403, 403, 202, 403, 202),
    row("GET",    f"{VL}/types/{{vtype}}/extra_specs",         200, 200, 200, 200, 200),
    row("POST",   f"{VL}/types/{{vtype}}/extra_specs",         403, 403, 200, 403, 200,
        body={"extra_specs": {"k": "v"}}),
    row("GET",    f"{VL}/types/{{vtype}}/extra_specs/matrix",  200, 200, 200, 200, 200),
    row("PUT",    f"{VL}/types/{{vtype}}/extra_specs/matrix",  403, 403, 200, 403, 200,
        body={"matrix": "changed"}),
    row("DELETE", f"{VL}/types/{{vtype}}/extra_specs/matrix",  403, 403, 202, 403, 202),
    row("GET",    f"{VL}/os-quota-sets/{{project}}",           200, 200, 200, 403, 200),
    row("PUT",    f"{VL}/os-quota-sets/{{project}}",           403, 403, 200, 403, 200,
        body={"quota_set": {"volumes": 20}}),
    row("DELETE", f"{VL}/os-quota-sets/{{project}}",           403, 403, 200, 403, 200),
    row("GET",    f"{VL}/os-quota-sets/{{project}}/defaults",  200, 200, 200, 200, 200),
    row("GET",    f"{VL}/limits",                              200, 200, 200, 200, 200),
    row("GET",    f"{VL}/os-availability-zone",                200, 200, 200, 200, 200),
    row("GET",    f"{VL}/os-services",                         403, 403, 200, 403, 200),
    row("GET",    f"{VL}/extensions",                          200, 200, 200, 200, 200),
]
# fmt: on

# Routes any caller may use without a token, by design: no row.
PUBLIC = {("identity/v3/auth/tokens", "POST")}
API_PREFIXES = ("compute/", "image/", "identity/", "^network/", "^volume/")
METHODS = ("get", "post", "put", "patch", "delete")


@dataclass
class World:
    """Two projects with their callers' tokens, a server each, and the path placeholders."""

    tokens: dict[str, str]
    values: dict[str, str]
    projects: dict[str, str]  # project name: id
    servers: dict[str, str]  # project name: its server's id
    groups: dict[str, str]  # project name: its server group's id
    hidden: dict[str, set[str]]  # caller: ids it must never be shown

    def call(self, caller: str, method: str, path: str, body=None, **headers):
        client = APIClient()
        if self.tokens[caller]:
            client.credentials(HTTP_X_AUTH_TOKEN=self.tokens[caller])
        data = {}
        content_type = headers.pop("content_type", "application/json")
        if body is not None:
            data = {"data": json.dumps(self.fill(body)), "content_type": content_type}
        return client.generic(
            method, path.format(**self.values), HTTP_OPENSTACK_API_VERSION=LATEST, **data, **headers
        )

    def fill(self, body):
        """The body with the placeholders in its strings filled in."""
        if isinstance(body, dict):
            return {key: self.fill(value) for key, value in body.items()}
        return body.format(**self.values) if isinstance(body, str) else body

    def request(self, caller: str, endpoint: Endpoint):
        values = {**self.values, "own_token": self.tokens[caller]}
        headers = {name: value.format(**values) for name, value in endpoint.headers.items()}
        return self.call(caller, endpoint.method, endpoint.path, endpoint.body, **headers)

    def own(self, caller: str, kind: str) -> str:
        """The id of the caller's project's server or server group."""
        return getattr(self, kind)[ACCOUNTS[caller][0]]


def world_build() -> World:
    seed_catalog()
    projects, users, tokens = {}, {}, {}
    for caller, (project_name, username, role) in ACCOUNTS.items():
        project, user = project_user_ensure(
            project_name=project_name, username=username, password=PASSWORD, role_name=role
        )
        projects[project_name], users[caller] = project.id, user.id
        tokens[caller] = token_for(username, project_name)
    expired = token_for("alpha-admin", "alpha")
    Token.objects.filter(digest=token_digest(expired)).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    revoked = token_for("alpha-admin", "alpha")
    assert token_revoke(secret=revoked)
    tokens.update({NO_TOKEN: "", EXPIRED: expired, REVOKED: revoked})

    servers, groups = {}, {}
    for project_name, caller in (("alpha", MEMBER), ("beta", FOREIGN_MEMBER)):
        client = APIClient()
        client.credentials(HTTP_X_AUTH_TOKEN=tokens[caller], HTTP_OPENSTACK_API_VERSION=LATEST)
        servers[project_name] = create_server(
            client, f"{project_name}-vm", metadata={"matrix": "yes"}
        )["id"]
        group = client.post(f"{V}/os-server-groups", GROUP, format="json")
        assert group.status_code == 200, group.content
        groups[project_name] = group.json()["server_group"]["id"]
    private_image = Image.objects.create(
        name="alpha-private",
        status=ImageStatus.ACTIVE,
        visibility=Visibility.PRIVATE,
        owner=projects["alpha"],
    )
    shared_image = Image.objects.create(
        name="alpha-shared",
        status=ImageStatus.ACTIVE,
        visibility=Visibility.SHARED,
        owner=projects["alpha"],
    )
    private_flavor = Flavor.objects.create(
        flavorid=str(uuid.uuid4()), name="private", memory_mb=512, vcpus=1, is_public=False
    )
    shared_flavor = Flavor.objects.create(
        flavorid=str(uuid.uuid4()), name="shared", memory_mb=512, vcpus=1, is_public=False
    )
    FlavorAccess.objects.create(flavor=shared_flavor, project_id=projects["alpha"])
    FlavorExtraSpec.objects.create(flavor=shared_flavor, key=SPEC, value="shared")
    node = ComputeNode.objects.create(host="matrix-host", last_seen_at=timezone.now())
    aggregate = Aggregate.objects.create(name="matrix-aggregate")
    spare_domain = Domain.objects.create(name="spare", enabled=False)
    spare_role = Role.objects.create(name="spare")
    key = public_key()
    client = APIClient()
    client.credentials(HTTP_X_AUTH_TOKEN=tokens[MEMBER], HTTP_OPENSTACK_API_VERSION=LATEST)
    created = client.post(
        KEYPAIRS, {"keypair": {"name": "alpha-key", "public_key": key}}, format="json"
    )
    assert created.status_code == 201, created.content

    net = network_world(projects, tokens)
    vol = volume_world(projects, tokens)
    alpha_private = {
        servers["beta"],
        groups["beta"],
        private_flavor.flavorid,
        net["beta_sg"],
        vol["beta_volume"],
    }
    beta_private = {
        servers["alpha"],
        shared_flavor.flavorid,
        groups["alpha"],
        str(private_image.id),
        str(shared_image.id),
        private_flavor.flavorid,
        key,
        net["network"],
        net["port"],
        net["sg"],
        net["fip"],
        vol["volume"],
        vol["snapshot"],
    }
    return World(
        tokens=tokens,
        values={
            "project": projects["alpha"],
            "server": servers["alpha"],
            "missing": str(uuid.uuid4()),
            "image": TINY_IMAGE_ID,
            "private_image": str(private_image.id),
            "shared_image": str(shared_image.id),
            "private_flavor": private_flavor.flavorid,
            "shared_flavor": shared_flavor.flavorid,
            "member_user": users[MEMBER],
            "member_token": tokens[MEMBER],
            "service": str(node.uuid),
            "hypervisor": str(node.uuid),
            "keypair": "alpha-key",
            "group": groups["alpha"],
            "aggregate": str(aggregate.id),
            "domain": DEFAULT_DOMAIN_ID,
            "role": Role.objects.get(name="member").id,
            "spare_domain": spare_domain.id,
            "spare_role": spare_role.id,
            **{k: v for k, v in net.items() if k != "beta_sg"},
            **{k: v for k, v in vol.items() if k != "beta_volume"},
        },
        projects=projects,
        servers=servers,
        groups=groups,
        hidden={READER: {*alpha_private, key}, MEMBER: alpha_private, FOREIGN_MEMBER: beta_private},
    )


def network_world(projects: dict[str, str], tokens: dict[str, str]) -> dict[str, str]:
    """Alpha's network (a subnet, a port), security group (a rule) and floating IP; an
    external and a shared network of a third project; each project's default group made
    (so that no GET in a cell makes one)."""
    infra, _ = project_user_ensure(
        project_name="infra", username="infra-admin", password=PASSWORD, role_name="admin"
    )
    admin = APIClient()
    admin.credentials(HTTP_X_AUTH_TOKEN=token_for("infra-admin", "infra"))
    member = APIClient()
    member.credentials(HTTP_X_AUTH_TOKEN=tokens[MEMBER])
    foreign = APIClient()
    foreign.credentials(HTTP_X_AUTH_TOKEN=tokens[FOREIGN_MEMBER])

    def made(client, path: str, key: str, body: dict) -> dict:
        reply = client.post(f"{N}/{path}", {key: body}, format="json")
        assert reply.status_code == 201, reply.content
        return reply.json()[key]

    public = made(admin, "networks", "network", {"name": "public", "router:external": True})
    public_subnet = made(
        admin,
        "subnets",
        "subnet",
        {"network_id": public["id"], "cidr": "172.24.4.0/24", "ip_version": 4},
    )
    shared = made(admin, "networks", "network", {"name": "shared", "shared": True})
    network = made(member, "networks", "network", {"name": "alpha-net"})
    subnet = made(
        member,
        "subnets",
        "subnet",
        {"network_id": network["id"], "cidr": "10.0.0.0/24", "ip_version": 4},
    )
    port = made(member, "ports", "port", {"network_id": network["id"]})
    sg = made(member, "security-groups", "security_group", {"name": "web"})
    rule = made(
        member,
        "security-group-rules",
        "security_group_rule",
        {
            "security_group_id": sg["id"],
            "direction": "ingress",
            "protocol": "tcp",
            "port_range_min": 22,
            "port_range_max": 22,
        },
    )
    fip = made(member, "floatingips", "floatingip", {"floating_network_id": public["id"]})
    beta_sg = made(foreign, "security-groups", "security_group", {"name": "beta-web"})
    assert infra.id
    return {
        "network": network["id"],
        "subnet": subnet["id"],
        "port": port["id"],
        "sg": sg["id"],
        "rule": rule["id"],
        "fip": fip["id"],
        "public": public["id"],
        "public_subnet": public_subnet["id"],
        "shared": shared["id"],
        "beta_sg": beta_sg["id"],
    }


def volume_world(projects: dict[str, str], tokens: dict[str, str]) -> dict[str, str]:
    """Alpha's two available volumes (one with a snapshot), beta's volume, and an unused
    volume type; the data 'made' by the service the conductor calls with a worker's
    report (no worker runs here)."""
    member = APIClient()
    member.credentials(HTTP_X_AUTH_TOKEN=tokens[MEMBER])
    foreign = APIClient()
    foreign.credentials(HTTP_X_AUTH_TOKEN=tokens[FOREIGN_MEMBER])
    admin = APIClient()
    admin.credentials(HTTP_X_AUTH_TOKEN=tokens[ADMIN])

    def volume(client, project: str) -> str:
        reply = client.post(
            f"/volume/v3/{projects[project]}/volumes",
            {"volume": {"size": 1, "metadata": {"matrix": "yes"}}},
            format="json",
        )
        assert reply.status_code == 202, reply.content
        volume_id = reply.json()["volume"]["id"]
        volume_services.volume_create_reported(
            result=VolumeResult(volume_id=volume_id, backend="file", provider_location="/v")
        )
        return volume_id

    alpha, held, beta = volume(member, "alpha"), volume(member, "alpha"), volume(foreign, "beta")
    pid = projects["alpha"]
    snapshot = member.post(
        f"/volume/v3/{pid}/snapshots", {"snapshot": {"volume_id": held}}, format="json"
    )
    assert snapshot.status_code == 202, snapshot.content
    snapshot_id = snapshot.json()["snapshot"]["id"]
    volume_services.snapshot_create_reported(
        result=VolumeResult(
            volume_id=held, backend="file", snapshot_id=snapshot_id, provider_location="/s"
        )
    )
    kind = admin.post(
        f"/volume/v3/{pid}/types",
        {"volume_type": {"name": "matrix", "extra_specs": {"matrix": "yes"}}},
        format="json",
    )
    assert kind.status_code == 200, kind.content
    return {
        "volume": alpha,
        "snapshot": snapshot_id,
        "vtype": kind.json()["volume_type"]["id"],
        "beta_volume": beta,
    }


@pytest.fixture(scope="module")
def built_world(django_db_setup, django_db_blocker):
    """Built once for the module in a transaction rolled back at its end. Each test's
    own transaction (the `db` fixture's) is nested in it, so a test's writes go with it."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield world_build()
        transaction.set_rollback(True)


@pytest.fixture
def world(built_world, db) -> World:
    return built_world


def rows_in_db() -> dict[str, list]:
    """Every row of every Stratus table (on PostgreSQL in one query, as JSON: a cell
    reads it twice, and a query per table was most of the matrix's time)."""
    models = [
        model
        for config in apps.get_app_configs()
        if config.name.startswith("cloud.")
        for model in config.get_models()
    ]
    if connection.vendor != "postgresql":
        return {m._meta.label: list(m.objects.order_by("pk").values_list()) for m in models}
    quote = connection.ops.quote_name
    sql = " UNION ALL ".join(
        f"SELECT %s, (SELECT coalesce(json_agg(t ORDER BY t.{quote(m._meta.pk.column)}), "
        f"'[]') FROM {quote(m._meta.db_table)} t)"
        for m in models
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [m._meta.label for m in models])
        return dict(cursor.fetchall())


def assert_error_shape(path: str, response) -> None:
    code = response.status_code
    body = response.json()
    if path.startswith("/network"):
        assert list(body) == ["NeutronError"], body
        assert set(body["NeutronError"]) == {"type", "message", "detail"}
        message = body["NeutronError"]["message"]
    elif path.startswith("/identity"):
        assert list(body) == ["error"], body
        assert body["error"]["code"] == code
        assert body["error"]["title"] == KEYSTONE_TITLES[code]
        message = body["error"]["message"]
    else:
        assert list(body) == [NOVA_KEYS[code]], body
        assert body[NOVA_KEYS[code]]["code"] == code
        message = body[NOVA_KEYS[code]]["message"]
    if code == 401:
        assert message == UNAUTHENTICATED
        assert response["WWW-Authenticate"].startswith("Keystone uri=")
    if code == 403:
        assert message == DENIED
        text = response.content.decode()
        assert not [rule.name for rule in list_rules() if rule.name in text]


def _cell(endpoint: Endpoint, caller: str):
    subject = endpoint.headers.get("HTTP_X_SUBJECT_TOKEN", "")
    words = (endpoint.method, endpoint.path, subject, "as", caller)
    return pytest.param(endpoint, caller, id=" ".join(filter(None, words)))


CELLS = [_cell(endpoint, caller) for endpoint in ENDPOINTS for caller in CALLERS]


@pytest.mark.parametrize("endpoint, caller", CELLS)
def test_matrix(world, endpoint, caller):
    before = rows_in_db()
    response = world.request(caller, endpoint)
    assert response.status_code == endpoint.expected(caller), response.content
    if response.status_code >= 400:
        assert_error_shape(endpoint.path, response)
    elif response.content:
        shown = response.content.decode()
        assert not [secret for secret in world.hidden.get(caller, ()) if secret in shown]
    if response.status_code >= 400 or endpoint.method == "GET":
        assert rows_in_db() == before


def _ids(response, key: str = "servers") -> set[str]:
    assert response.status_code == 200, response.content
    return {item["id"] for item in response.json()[key]}


LISTS = [f"{V}/servers", f"{V}/servers/detail"]
GROUPS = f"{V}/os-server-groups"


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize(
    "query", ["", "?project_id={other}", "?tenant_id={other}", "?all_tenants=0", "?deleted=1"]
)
@pytest.mark.parametrize("caller", [READER, MEMBER, FOREIGN_MEMBER])
def test_a_non_admin_lists_its_own_project_only(world, caller, path, query):
    other = world.projects["beta" if ACCOUNTS[caller][0] == "alpha" else "alpha"]
    query = query.format(other=other)
    assert _ids(world.call(caller, "GET", path + query)) == {world.own(caller, "servers")}


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("caller", sorted(ADMINS))
def test_an_admin_sees_other_projects_only_with_all_tenants(world, caller, path):
    own = world.own(caller, "servers")
    every = set(world.servers.values())
    assert _ids(world.call(caller, "GET", path)) == {own}
    assert _ids(world.call(caller, "GET", f"{path}?all_tenants=0")) == {own}
    for flag in ("all_tenants", "all_tenants=1", "all_tenants=True"):
        assert _ids(world.call(caller, "GET", f"{path}?{flag}")) == every
    alpha_only = world.call(caller, "GET", f"{path}?all_tenants=1&project_id={{project}}")
    assert _ids(alpha_only) == {world.servers["alpha"]}
    for server in every:
        assert world.call(caller, "GET", f"{V}/servers/{server}").status_code == 200


@pytest.mark.parametrize("caller", SIGNED_IN)
def test_server_groups_of_other_projects_are_listed_only_for_admins_who_ask(world, caller):
    own = _ids(world.call(caller, "GET", GROUPS), "server_groups")
    assert own == {world.own(caller, "groups")}
    if caller in ADMINS:
        every = world.call(caller, "GET", f"{GROUPS}?all_projects=1")
        assert _ids(every, "server_groups") == set(world.groups.values())


@pytest.mark.parametrize(
    "method, template",
    [
        ("GET", f"{V}/servers/{{server}}"),
        ("DELETE", f"{V}/servers/{{server}}"),
        ("GET", f"{V}/servers/{{server}}/diagnostics"),
        ("GET", f"{V}/servers/{{server}}/os-instance-actions"),
        ("GET", f"{GROUPS}/{{group}}"),
        ("DELETE", f"{GROUPS}/{{group}}"),
    ],
)
def test_a_foreign_resource_answers_exactly_like_a_missing_one(world, method, template):
    kind = template.split("{")[1].split("}")[0]
    found, missing = world.values[kind], world.values["missing"]
    foreign = world.call(FOREIGN_MEMBER, method, template)
    unknown = world.call(FOREIGN_MEMBER, method, template.replace(f"{{{kind}}}", "{missing}"))
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json() == json.loads(unknown.content.decode().replace(missing, found))


@pytest.mark.parametrize("path", LISTS)
def test_a_foreign_server_is_no_marker(world, path):
    server, missing = world.values["server"], world.values["missing"]
    foreign = world.call(FOREIGN_MEMBER, "GET", f"{path}?marker={server}")
    unknown = world.call(FOREIGN_MEMBER, "GET", f"{path}?marker={missing}")
    assert foreign.status_code == unknown.status_code == 400
    assert foreign.json() == json.loads(unknown.content.decode().replace(missing, server))


@pytest.mark.parametrize("caller", [READER, ADMIN, FOREIGN_MEMBER, FOREIGN_ADMIN])
def test_a_keypair_is_listed_for_its_user_only(world, caller):
    def names(path: str) -> set[str]:
        response = world.call(caller, "GET", path)
        assert response.status_code == 200, response.content
        return {item["keypair"]["name"] for item in response.json()["keypairs"]}

    assert "alpha-key" not in names(KEYPAIRS)
    if caller in ADMINS:
        assert names(KEYPAIRS + AS_MEMBER) == {"alpha-key"}


@pytest.mark.parametrize("caller", [ADMIN, FOREIGN_MEMBER, FOREIGN_ADMIN])
def test_booting_with_another_users_keypair_answers_like_a_missing_one(world, caller):
    before = rows_in_db()
    replies = [
        world.call(caller, "POST", f"{V}/servers", {"server": {**BOOT["server"], "key_name": name}})
        for name in ("{keypair}", "no-such-key")
    ]
    assert [reply.status_code for reply in replies] == [400, 400]
    assert replies[0].json() == replies[1].json()
    assert rows_in_db() == before


def _api_routes() -> set[tuple[str, str]]:
    found = set()

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
                continue
            view = getattr(pattern.callback, "view_class", None)
            if view is None or not route.startswith(API_PREFIXES):
                continue
            if AllowAny in getattr(view, "permission_classes", ()):
                continue
            found.update(
                (route, method.upper())
                for method in METHODS
                if hasattr(view, method) and method in view.http_method_names
            )

    walk(get_resolver().url_patterns, "")
    return found - PUBLIC


def test_every_api_route_has_a_row():
    placeholders = defaultdict(lambda: "x")
    covered = {
        (resolve(urlsplit(endpoint.path.format_map(placeholders)).path).route, endpoint.method)
        for endpoint in ENDPOINTS
    }
    assert sorted(_api_routes() - covered) == []
