"""The rule defaults of every API, in code; an operator's policy.yaml overrides any of them."""

from cloud.identity.policies import base, compute, identity, image, placement


def list_rules():
    return [
        *base.list_rules(),
        *compute.list_rules(),
        *identity.list_rules(),
        *image.list_rules(),
        *placement.list_rules(),
    ]
