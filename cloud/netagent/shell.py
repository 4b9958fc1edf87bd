"""Running the host's network tools (ovs-vsctl, ip, nft, dnsmasq) with timeouts.

Every host change goes through `run`: one place that bounds how long a tool may take
and turns a failure into `CommandError` carrying the tool's own message.
"""

import logging
import subprocess
from collections.abc import Sequence

log = logging.getLogger(__name__)

TIMEOUT = 20.0


class CommandError(RuntimeError):
    """A host tool failed or did not finish in time."""

    def __init__(self, argv: Sequence[str], message: str, returncode: int | None = None) -> None:
        super().__init__(f"{' '.join(argv)}: {message}")
        self.argv = list(argv)
        self.returncode = returncode
        self.message = message


def run(
    argv: Sequence[str],
    *,
    netns: str | None = None,
    input: str | None = None,
    check: bool = True,
    timeout: float = TIMEOUT,
) -> str:
    """Run `argv` (inside network namespace `netns` when given); its stdout.

    With check=False a failure returns "" instead of raising (for probes and for
    removals of what may already be gone)."""
    full = ["ip", "netns", "exec", netns, *argv] if netns else list(argv)
    try:
        done = subprocess.run(
            full, input=input, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise CommandError(full, f"no answer in {timeout:g}s") from exc
    except FileNotFoundError as exc:
        raise CommandError(full, f"{full[0]} is not installed") from exc
    if done.returncode != 0:
        if not check:
            return ""
        raise CommandError(full, done.stderr.strip() or f"exit {done.returncode}", done.returncode)
    return done.stdout
