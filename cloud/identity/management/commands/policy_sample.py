"""`manage.py policy_sample`: every policy rule with its default, as a commented policy.yaml."""

import json

from django.core.management.base import BaseCommand

from cloud.identity.policies import list_rules


def sample() -> str:
    lines = [
        "# Stratus policy: uncomment a rule and change its check to override the default.",
        "# The file named by POLICY_FILE is re-read when it changes; no restart needed.",
        "",
    ]
    for rule in list_rules():
        lines.append(f"# {rule.description}")
        for operation in getattr(rule, "operations", []):
            lines.append(f"# {operation['method']}  {operation['path']}")
        lines.append(f"#{json.dumps(rule.name)}: {json.dumps(rule.check_str)}")
        lines.append("")
    return "\n".join(lines)


class Command(BaseCommand):
    help = "Print every policy rule with its default, as a commented policy.yaml."

    def handle(self, *args, **options) -> None:
        self.stdout.write(sample())
