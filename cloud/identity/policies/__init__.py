"""The rule defaults of every API, in code; an operator's policy.yaml overrides any of them."""

from cloud.identity.policies import base, compute, identity, image, network, placement, volume


def list_rules():
    return [
        *base.list_rules(),
        *compute.list_rules(),
        *identity.list_rules(),
        *image.list_rules(),
        *network.list_rules(),
        *placement.list_rules(),
        *volume.list_rules(),
    ]
