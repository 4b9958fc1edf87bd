"""Policy enforcement: every API operation checks a named rule.

The defaults live in code (`cloud.identity.policies`); an operator overrides
any rule in the YAML file named by the POLICY_FILE setting, in oslo.policy's
syntax, and edits take effect without a restart (oslo.policy re-reads the
file when it changes). A denial is logged with the rule's name and answered
403 with a message that does not name it.
"""

import logging
import os
import threading
from collections import OrderedDict
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


def _rules_version(policy_file: str) -> tuple | None:
    """What tells one version of the operator's file from the next (None: no file)."""
    try:
        found = os.stat(policy_file)
    except OSError:
        return None
    return (found.st_mtime_ns, found.st_size, found.st_ino)


# Decisions already made, by (file, its version, rule, target, caller): a check costs
# oslo.policy about a millisecond (it re-reads its rules and inspects every check),
# and a listing makes one per row. A decision depends on nothing else, and an edit of
# the file changes its version, so the next check asks oslo.policy again.
DECISIONS = 10000
_decisions: OrderedDict[tuple, bool] = OrderedDict()
_decisions_lock = threading.Lock()


def _decision_key(policy_file: str, context: RequestContext, rule: str, target: dict):
    key = (
        policy_file,
        _rules_version(policy_file) if policy_file else None,
        rule,
        tuple(sorted(target.items())),
        context.user_id,
        context.project_id,
        tuple(context.roles),
    )
    try:
        hash(key)
    except TypeError:  # a target value no decision can be filed under
        return None
    return key


def allowed(context: RequestContext, rule: str, target: dict | None = None) -> bool:
    """Whether the rule allows this caller on the target (default: the caller's own project)."""
    policy_file = str(settings.POLICY_FILE or "")
    target = target if target is not None else default_target(context)
    key = _decision_key(policy_file, context, rule, target)
    if key is not None:
        with _decisions_lock:
            found = _decisions.get(key)
        if found is not None:
            return found
    decision = bool(
        enforcer(policy_file).authorize(rule, target, credentials(context), do_raise=False)
    )
    if key is not None:
        with _decisions_lock:
            _decisions[key] = decision
            while len(_decisions) > DECISIONS:
                _decisions.popitem(last=False)
    return decision


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
