#!/usr/bin/env python
"""Image boot: time from `server create` to ACTIVE for an image the host has not cached
(the compute fetches it over HTTP from the image API, verifies its sha512 and makes
the root disk an overlay of it) and for one it has (only the overlay).

    .venv/bin/python bench/image_boot.py                 # own stack, a 1 GiB image, 2 rounds
    .venv/bin/python bench/image_boot.py --size-mb 256 --rounds 3 --save

The stack is private (deploy/stack.py on free ports, simulated hosts on libvirt's
test driver, one compute so the second boot finds the cache). Each round uploads a
fresh image of random bytes (incompressible, so nothing is faster than the real
thing) through the image API, boots a server from it (uncached), then a second
(cached), and deletes both. It prints each round's figures, their medians, and a
one-line JSON summary last; `--save` keeps it in bench/results/image_boot.json.
"""

import argparse
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from boot_storm import HTTP_TIMEOUT, Api, OwnStack, RunAborted, log, read_cloud  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "image_boot.json"


def _image_file(directory: Path, size_mb: int) -> Path:
    path = directory / "bench-image.raw"
    with path.open("wb") as handle:
        for _ in range(size_mb):
            handle.write(os.urandom(1 << 20))
    return path


def _upload(api: Api, path: Path) -> tuple[str, float]:
    """A new raw image with the file's bytes (streamed); its id and the upload's seconds."""
    r = api.session.post(
        f"{api.base}/image/v2/images",
        json={
            "name": f"bench-{secrets.token_hex(3)}",
            "disk_format": "raw",
            "container_format": "bare",
        },
        timeout=HTTP_TIMEOUT,
    )
    if r.status_code != 201:
        raise RunAborted(f"image create: HTTP {r.status_code} {r.text[:300]}")
    image_id = r.json()["id"]
    started = time.monotonic()
    with path.open("rb") as handle:
        r = api.session.put(
            f"{api.base}/image/v2/images/{image_id}/file",
            data=handle,
            headers={"Content-Type": "application/octet-stream"},
            timeout=600,
        )
    if r.status_code != 204:
        raise RunAborted(f"image upload: HTTP {r.status_code} {r.text[:300]}")
    return image_id, time.monotonic() - started


def _boot(api: Api, image_id: str, flavor: str, timeout: float) -> tuple[str, float]:
    """POST a server, poll until ACTIVE; (its id, seconds from POST to ACTIVE)."""
    body = {
        "server": {
            "name": f"bench-{secrets.token_hex(3)}",
            "imageRef": image_id,
            "flavorRef": flavor,
            "networks": "none",
        }
    }
    started = time.monotonic()
    r = api.session.post(f"{api.compute}/servers", json=body, timeout=HTTP_TIMEOUT)
    if r.status_code != 202:
        raise RunAborted(f"server create: HTTP {r.status_code} {r.text[:300]}")
    server_id = r.json()["server"]["id"]
    while time.monotonic() - started < timeout:
        server = api.session.get(f"{api.compute}/servers/{server_id}", timeout=HTTP_TIMEOUT)
        status = server.json()["server"]["status"]
        if status == "ACTIVE":
            return server_id, time.monotonic() - started
        if status == "ERROR":
            raise RunAborted(f"server {server_id}: ERROR {server.json()['server'].get('fault')}")
        time.sleep(0.05)
    raise RunAborted(f"server {server_id} not ACTIVE after {timeout:.0f}s")


def _delete(api: Api, server_id: str) -> None:
    api.session.delete(f"{api.compute}/servers/{server_id}", timeout=HTTP_TIMEOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        r = api.session.get(f"{api.compute}/servers/{server_id}", timeout=HTTP_TIMEOUT)
        if r.status_code == 404:
            return
        time.sleep(0.2)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="the image's size (MiB)")
    parser.add_argument("--rounds", type=int, default=2)
    # A flavor whose root disk holds the image: m1.small (20 GB).
    parser.add_argument("--flavor", default="2")
    parser.add_argument("--timeout", type=float, default=600.0, help="per boot")
    parser.add_argument("--save", action="store_true")
    parser.add_argument("--keep-var", action="store_true")
    parser.add_argument("--var-dir", default="")
    args = parser.parse_args(argv)
    # What OwnStack reads (boot_storm's stack options).
    args.computes, args.host_cpus, args.host_memory_mb, args.host_disk_gb = 1, 32, 65536, 1000
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stack = OwnStack(args)
    failed = True
    try:
        log(f"stack up in {stack.start():.1f}s at {stack.base_url}")
        api = Api(stack.base_url, read_cloud(stack.cloud_config, "stratus"))
        api.authenticate()
        rounds = []
        with tempfile.TemporaryDirectory() as scratch:
            image = _image_file(Path(scratch), args.size_mb)
            for index in range(1, args.rounds + 1):
                image_id, upload_s = _upload(api, image)
                uncached_id, uncached_s = _boot(api, image_id, args.flavor, args.timeout)
                cached_id, cached_s = _boot(api, image_id, args.flavor, args.timeout)
                for server_id in (uncached_id, cached_id):
                    _delete(api, server_id)
                rounds.append(
                    {"upload_s": upload_s, "uncached_s": uncached_s, "cached_s": cached_s}
                )
                log(
                    f"round {index}: upload {upload_s:.2f}s, create->ACTIVE uncached "
                    f"{uncached_s:.2f}s, cached {cached_s:.2f}s"
                )
        summary = {
            "image_mb": args.size_mb,
            "rounds": len(rounds),
            "uncached_s_median": round(statistics.median(r["uncached_s"] for r in rounds), 3),
            "cached_s_median": round(statistics.median(r["cached_s"] for r in rounds), 3),
            "upload_s_median": round(statistics.median(r["upload_s"] for r in rounds), 3),
            "runs": [{k: round(v, 3) for k, v in r.items()} for r in rounds],
        }
        print(
            f"{args.size_mb} MiB image, create -> ACTIVE: uncached "
            f"{summary['uncached_s_median']:.2f}s, cached {summary['cached_s_median']:.2f}s "
            f"(median of {len(rounds)})"
        )
        if args.save:
            RESULTS.write_text(json.dumps(summary, indent=2) + "\n")
            log(f"saved {RESULTS}")
        print(json.dumps(summary, separators=(",", ":")))
        failed = False
        return 0
    except (RunAborted, requests.RequestException) as exc:
        log(f"aborted: {exc}")
        return 2
    finally:
        stack.stop(keep=args.keep_var or failed)


if __name__ == "__main__":
    sys.exit(main())
