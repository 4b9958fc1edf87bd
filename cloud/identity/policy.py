"""Policy enforcement: every API operation checks a named rule.

The defaults live in code (`cloud.identity.policies`); an operator overrides
any rule in the YAML file named by the POLICY_FILE setting, in oslo.policy's
syntax, and edits take effect without a restart (oslo.policy re-reads the
file when it changes). A denial is logged with the rule's name and answered
403 with a message that does not name it.
"""

import logging
from functools import lru_cache

from django.conf import settings
from oslo_config import cfg
from oslo_policy import policy as oslo_policy

from cloud.api.errors import Forbidden
from cloud.identity.context import RequestContext
from cloud.identity.policies import list_rules

log = logging.getLogger(__name__)

DENIED = "You are not authorized to perform the requested action."


class PolicyDenied(Forbidden):
    default_detail = DENIED


@lru_cache(maxsize=4)
def enforcer(policy_file: str) -> oslo_policy.Enforcer:
    conf = cfg.ConfigOpts()
    conf([], project="stratus", default_config_files=[], default_config_dirs=[])
    found = oslo_policy.Enforcer(conf, policy_file=policy_file or None, use_conf=bool(policy_file))
    found.register_defaults(list_rules())
    conf.set_override("policy_dirs", [], group="oslo_policy")
    return found


def credentials(context: RequestContext) -> dict:
    return {
        "user_id": context.user_id,
        "project_id": context.project_id,
        "roles": list(context.roles),
    }


def default_target(context: RequestContext) -> dict:
    return {"project_id": context.project_id, "user_id": context.user_id}


def allowed(context: RequestContext, rule: str, target: dict | None = None) -> bool:
    """Whether the rule allows this caller on the target (default: the caller's own project)."""
    checker = enforcer(str(settings.POLICY_FILE or ""))
    return checker.authorize(
        rule,
        target if target is not None else default_target(context),
        credentials(context),
        do_raise=False,
    )


def authorize(context: RequestContext, rule: str, target: dict | None = None) -> None:
    """Raise PolicyDenied (403) unless the rule allows this caller on the target."""
    if not allowed(context, rule, target):
        log.info(
            "policy %s denied user %s on project %s (roles %s)",
            rule,
            context.user_id,
            context.project_id,
            ",".join(context.roles),
        )
        raise PolicyDenied()
