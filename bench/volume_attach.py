#!/usr/bin/env python
"""Volume attach + detach round trips through the APIs, on the simulated hosts (libvirt's
test driver: the definition changes) or on a real QEMU guest (`--hypervisor qemu`: the
disk is hot-plugged into the running guest and unplugged again).

    .venv/bin/python bench/volume_attach.py                      # simulated hosts, 10 rounds
    flock /tmp/qemu.lock .venv/bin/python bench/volume_attach.py --hypervisor qemu --rounds 5

It starts a private stack (deploy/stack.py on free ports), creates one server and one
1 GiB volume, then per round: POST os-volume_attachments and poll the volume until
`in-use` (the attach: api, conductor, volume worker's connection, host, conductor),
DELETE it and poll until `available` (the detach: host, volume worker, conductor). It
prints each round, the medians and p95s, and a one-line JSON summary last.
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from boot_storm import HTTP_TIMEOUT, Api, OwnStack, RunAborted, log, read_cloud  # noqa: E402
from consoles import boot_guest, delete_servers  # noqa: E402

POLL = 0.02


class VolumeStack(OwnStack):
    """boot_storm's private stack, on the hypervisor asked for."""

    def _stack(self, *argv: str, check: bool = True):
        if argv and argv[0] == "start" and self.args.hypervisor != "test":
            argv = (*argv, "--hypervisor", self.args.hypervisor)
        return super()._stack(*argv, check=check)


def _volume_api(api: Api) -> str:
    r = api.session.get(
        f"{api.base}/identity/v3/auth/tokens",
        timeout=HTTP_TIMEOUT,
        headers={"X-Subject-Token": api.token},
    )
    project = r.json()["token"]["project"]["id"]
    return f"{api.base}/volume/v3/{project}"


def _wait(check, what: str, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():
            return time.monotonic() - started
        time.sleep(POLL)
    raise RunAborted(f"{what} not done after {timeout:.0f}s")


def _server(api: Api, image: str, flavor: str, timeout: float) -> str:
    body = {
        "server": {"name": "bench-vol", "imageRef": image, "flavorRef": flavor, "networks": "none"}
    }
    r = api.session.post(f"{api.compute}/servers", json=body, timeout=HTTP_TIMEOUT)
    if r.status_code != 202:
        raise RunAborted(f"server create: HTTP {r.status_code} {r.text[:300]}")
    server_id = r.json()["server"]["id"]

    def active() -> bool:
        server = api.session.get(f"{api.compute}/servers/{server_id}", timeout=HTTP_TIMEOUT)
        status = server.json()["server"]["status"]
        if status == "ERROR":
            raise RunAborted(f"server {server_id}: ERROR")
        return status == "ACTIVE"

    _wait(active, "the server's build", timeout)
    return server_id


def _volume_status(api: Api, volumes: str, volume_id: str) -> str:
    r = api.session.get(f"{volumes}/volumes/{volume_id}", timeout=HTTP_TIMEOUT)
    status = r.json()["volume"]["status"]
    if status.startswith("error"):
        raise RunAborted(f"volume {volume_id}: {status}")
    return status


def _round(api: Api, volumes: str, server_id: str, volume_id: str, timeout: float) -> dict:
    started = time.monotonic()
    r = api.session.post(
        f"{api.compute}/servers/{server_id}/os-volume_attachments",
        json={"volumeAttachment": {"volumeId": volume_id}},
        timeout=HTTP_TIMEOUT,
    )
    if r.status_code != 200:
        raise RunAborted(f"attach: HTTP {r.status_code} {r.text[:300]}")
    attach_api = time.monotonic() - started
    _wait(lambda: _volume_status(api, volumes, volume_id) == "in-use", "attach", timeout)
    attach = time.monotonic() - started
    started = time.monotonic()
    r = api.session.delete(
        f"{api.compute}/servers/{server_id}/os-volume_attachments/{volume_id}",
        timeout=HTTP_TIMEOUT,
    )
    if r.status_code != 202:
        raise RunAborted(f"detach: HTTP {r.status_code} {r.text[:300]}")
    _wait(lambda: _volume_status(api, volumes, volume_id) == "available", "detach", timeout)
    detach = time.monotonic() - started
    return {
        "attach_api_s": attach_api,
        "attach_s": attach,
        "detach_s": detach,
        "round_trip_s": attach + detach,
    }


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hypervisor", choices=["test", "qemu"], default="test")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=300.0, help="per step")
    parser.add_argument("--keep-var", action="store_true")
    parser.add_argument("--var-dir", default="")
    args = parser.parse_args(argv)
    args.computes, args.host_cpus, args.host_memory_mb, args.host_disk_gb = 1, 8, 16384, 100
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stack = VolumeStack(args)
    failed = True
    api = None
    try:
        log(f"stack up in {stack.start():.1f}s at {stack.base_url}")
        api = Api(stack.base_url, read_cloud(stack.cloud_config, "stratus"))
        api.authenticate()
        volumes = _volume_api(api)
        if args.hypervisor == "qemu":
            # Until its kernel is up the guest answers no unplug request: the detach
            # would fail (as it does with Nova). Its boot line says it is up.
            server_id = boot_guest(api, "bench-vol", args.timeout)
        else:
            server_id = _server(api, api.image_id("tiny"), "1", args.timeout)
        r = api.session.post(
            f"{volumes}/volumes",
            json={"volume": {"size": 1, "name": "bench"}},
            timeout=HTTP_TIMEOUT,
        )
        if r.status_code != 202:
            raise RunAborted(f"volume create: HTTP {r.status_code} {r.text[:300]}")
        volume_id = r.json()["volume"]["id"]
        _wait(
            lambda: _volume_status(api, volumes, volume_id) == "available",
            "volume create",
            args.timeout,
        )
        rounds = []
        for index in range(1, args.rounds + 1):
            rounds.append(_round(api, volumes, server_id, volume_id, args.timeout))
            figures = ", ".join(f"{k} {v:.3f}" for k, v in rounds[-1].items())
            log(f"round {index}: {figures}")
        summary = {"hypervisor": args.hypervisor, "rounds": len(rounds)}
        for key in rounds[0]:
            values = [r[key] for r in rounds]
            summary[f"{key}_median"] = round(statistics.median(values), 3)
            summary[f"{key}_p95"] = round(_p95(values), 3)
        print(
            f"{args.hypervisor}: attach {summary['attach_s_median']:.3f}s "
            f"(p95 {summary['attach_s_p95']:.3f}s), detach {summary['detach_s_median']:.3f}s "
            f"(p95 {summary['detach_s_p95']:.3f}s), round trip "
            f"{summary['round_trip_s_median']:.3f}s median of {len(rounds)}"
        )
        print(json.dumps(summary, separators=(",", ":")))
        failed = False
        return 0
    except (RunAborted, requests.RequestException) as exc:
        log(f"aborted: {exc}")
        return 2
    finally:
        if stack.started and args.hypervisor == "qemu" and api is not None:
            # Stopping the stack leaves the QEMU guest's domain defined.
            delete_servers(api)
        stack.stop(keep=args.keep_var or failed)


if __name__ == "__main__":
    sys.exit(main())
