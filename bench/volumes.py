#!/usr/bin/env python
"""Volumes created per second, on the file and the nbd backend: N empty volumes of 1 GiB
asked for at once through the block-storage API, timed from the first POST until the
last is `available` (the volume worker made each with qemu-img and reported through
the conductor), then deleted.

    .venv/bin/python bench/volumes.py                  # own stack, 40 volumes per backend
    .venv/bin/python bench/volumes.py --count 100 --concurrency 16

The stack is private (deploy/stack.py on free ports with both volume workers,
`--volume-backends file,nbd`; each worker runs 4 task threads). An admin makes a
volume type for the nbd backend (`volume_backend_name=nbd`); the file backend is the
default type's. It prints each backend's figures and a one-line JSON summary last.
"""

import argparse
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from boot_storm import HTTP_TIMEOUT, Api, OwnStack, RunAborted, log, read_cloud  # noqa: E402

V3 = {"OpenStack-API-Version": "volume 3.71"}


def _project_id(api: Api) -> str:
    r = api.session.get(
        f"{api.base}/identity/v3/auth/tokens",
        headers={"X-Subject-Token": api.token},
        timeout=HTTP_TIMEOUT,
    )
    return r.json()["token"]["project"]["id"]


def _nbd_type(api: Api, url: str) -> str:
    r = api.session.post(
        f"{url}/types",
        json={"volume_type": {"name": "bench-nbd", "extra_specs": {"volume_backend_name": "nbd"}}},
        headers=V3,
        timeout=HTTP_TIMEOUT,
    )
    if r.status_code not in (200, 409):
        raise RunAborted(f"type create: HTTP {r.status_code} {r.text[:300]}")
    return "bench-nbd"


def _wait(api: Api, url: str, ids: set[str], gone: bool, timeout: float) -> None:
    """Until every volume is available (or, with gone, deleted); RunAborted on error."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = api.session.get(f"{url}/volumes/detail?limit=1000", headers=V3, timeout=HTTP_TIMEOUT)
        found = {v["id"]: v for v in r.json()["volumes"] if v["id"] in ids}
        failed = [v for v in found.values() if v["status"].startswith("error")]
        if failed:
            raise RunAborted(f"{len(failed)} volumes in error, e.g. {failed[0]['id']}")
        if gone and not found:
            return
        if (
            not gone
            and len(found) == len(ids)
            and all(v["status"] == "available" for v in found.values())
        ):
            return
        time.sleep(0.05)
    raise RunAborted(f"volumes not {'gone' if gone else 'available'} after {timeout:.0f}s")


def _run(api: Api, url: str, backend: str, kind: str | None, args) -> dict:
    def create(index: int) -> str:
        body = {"volume": {"size": 1, "name": f"bench-{backend}-{index}"}}
        if kind:
            body["volume"]["volume_type"] = kind
        r = api.session.post(f"{url}/volumes", json=body, headers=V3, timeout=HTTP_TIMEOUT)
        if r.status_code != 202:
            raise RunAborted(f"volume create: HTTP {r.status_code} {r.text[:300]}")
        return r.json()["volume"]["id"]

    started = time.monotonic()
    with ThreadPoolExecutor(args.concurrency) as pool:
        ids = set(pool.map(create, range(args.count)))
    posted = time.monotonic() - started
    _wait(api, url, ids, gone=False, timeout=args.timeout)
    created = time.monotonic() - started
    started = time.monotonic()
    with ThreadPoolExecutor(args.concurrency) as pool:
        list(
            pool.map(
                lambda v: api.session.delete(f"{url}/volumes/{v}", headers=V3, timeout=60), ids
            )
        )
    _wait(api, url, ids, gone=True, timeout=args.timeout)
    deleted = time.monotonic() - started
    result = {
        "backend": backend,
        "volumes": len(ids),
        "created_s": round(created, 3),
        "created_per_s": round(len(ids) / created, 2),
        "posted_s": round(posted, 3),
        "deleted_s": round(deleted, 3),
    }
    log(
        f"{backend}: {len(ids)} volumes available in {created:.2f}s "
        f"({result['created_per_s']:.1f}/s; POSTs took {posted:.2f}s), deleted in {deleted:.2f}s"
    )
    return result


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=40, help="volumes per backend")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--keep-var", action="store_true")
    parser.add_argument("--var-dir", default="")
    args = parser.parse_args(argv)
    args.computes, args.host_cpus, args.host_memory_mb, args.host_disk_gb = 1, 32, 65536, 1000
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ["VOLUME_BACKENDS"] = "file,nbd"  # what deploy/stack.py runs
    stack = OwnStack(args)
    failed = True
    try:
        log(f"stack up in {stack.start():.1f}s at {stack.base_url}")
        api = Api(stack.base_url, read_cloud(stack.cloud_config, "stratus"))
        api.authenticate()
        url = f"{stack.base_url}/volume/v3/{_project_id(api)}"
        quota = {"quota_set": {"volumes": -1, "gigabytes": -1}}
        api.session.put(f"{url}/os-quota-sets/{_project_id(api)}", json=quota, timeout=30)
        results = [
            _run(api, url, "file", None, args),
            _run(api, url, "nbd", _nbd_type(api, url), args),
        ]
        for r in results:
            print(f"{r['backend']}: {r['created_per_s']:.1f} volumes created per second")
        print(json.dumps({"count": args.count, "runs": results}, separators=(",", ":")))
        failed = False
        return 0
    except (RunAborted, requests.RequestException) as exc:
        log(f"aborted: {exc}")
        return 2
    finally:
        stack.stop(keep=args.keep_var or failed)


if __name__ == "__main__":
    sys.exit(main())
