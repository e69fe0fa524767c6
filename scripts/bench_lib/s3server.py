"""A real S3 server on loopback for the S3 steps: SeaweedFS `weed mini`, run by the bench.

The bench itself stays standard-library only: buckets are created (and dropped) by the project's
own interpreter (`.venv/bin/python`, which has boto3), in a subprocess. The server gets its own
temporary folder, free ports (as in tests/servers.py), `GOMEMLIMIT=512MiB`, telemetry off, and binds
to 127.0.0.1 only. It is stopped by PID; if the bench dies, the kernel stops it (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import random
import re
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from .proc import first_error_line, log, run
from .workloads import remove_path

KEY, SECRET = "benchkey", "benchsecret"

# Run by the project's interpreter: wait until a signed write succeeds (an open port is not enough).
_READY_SRC = r"""
import sys, time, boto3
c = boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id=sys.argv[2],
                 aws_secret_access_key=sys.argv[3], region_name="us-east-1")
deadline = time.monotonic() + float(sys.argv[4])
while True:
    try:
        c.create_bucket(Bucket="readiness")
        c.put_object(Bucket="readiness", Key="k", Body=b"x")
        break
    except Exception as exc:
        if time.monotonic() > deadline:
            sys.exit(f"not ready: {exc}")
        time.sleep(0.1)
"""

_BUCKET_SRC = r"""
import sys, boto3
c = boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id=sys.argv[2],
                 aws_secret_access_key=sys.argv[3], region_name="us-east-1")
if sys.argv[4] == "create":
    c.create_bucket(Bucket=sys.argv[5])
else:  # drop: delete every object, then the bucket (frees the server's disk between runs)
    for page in c.get_paginator("list_objects_v2").paginate(Bucket=sys.argv[5]):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            c.delete_objects(Bucket=sys.argv[5], Delete={"Objects": keys, "Quiet": True})
    c.delete_bucket(Bucket=sys.argv[5])
"""


def _free_port_block(count: int, twin_offset: int) -> int:
    """A base port such that base..base+count-1 and their +twin_offset twins are all free."""
    for _ in range(200):
        base = random.randrange(20000, 45000)
        sockets = []
        try:
            wanted = ([base + i for i in range(count)]
                      + [base + twin_offset + i for i in range(count)])
            for port in wanted:
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError("no free block of ports")


def _die_with_parent() -> None:
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class S3Server:
    """`weed mini` on loopback. `error` is set (and `endpoint` is None) if it is unavailable."""

    def __init__(self, weed: Path, python: Path, workdir: Path):
        self.weed, self.python = weed, python
        self.endpoint: str | None = None
        self.error = ""
        self.status = "FAILED"  # the cell status when unavailable: n/a if weed is not installed
        self.version = "n/a"
        self.proc: subprocess.Popen | None = None
        self.dir: Path | None = None
        self.ports: list[int] = []
        self.workdir = workdir

    def start(self) -> bool:
        if not (self.weed.is_file() and os.access(self.weed, os.X_OK)):
            self.status, self.error = "n/a", f"no S3 server: {self.weed} is not installed"
            log(f"WARNING: {self.error}; S3 steps are recorded as n/a")
            return False
        if not self.python.is_file():
            self.status, self.error = "n/a", f"no S3 client: {self.python} (boto3) is not installed"
            log(f"WARNING: {self.error}; S3 steps are recorded as n/a")
            return False
        res = run([self.weed, "version"], timeout=60)
        found = re.search(r"\b\d+\.\d+[\w.]*", res.stdout) if res.rc == 0 else None
        self.version = found.group(0) if found else "unknown"
        self.dir = Path(tempfile.mkdtemp(prefix="seaweedfs-", dir=self.workdir))
        (self.dir / "data").mkdir()
        (self.dir / "logs").mkdir()
        (self.dir / "s3.json").write_text(json.dumps({"identities": [{
            "name": "bench", "credentials": [{"accessKey": KEY, "secretKey": SECRET}],
            "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}))
        base = _free_port_block(5, twin_offset=10000)  # gRPC ports are HTTP ports + 10000
        ports = {"master.port": base, "volume.port": base + 1, "filer.port": base + 2,
                 "s3.port": base + 3, "admin.port": base + 4}
        self.ports = [*ports.values(), *(p + 10000 for p in ports.values())]
        argv = [str(self.weed), f"-logdir={self.dir / 'logs'}", "mini", f"-dir={self.dir / 'data'}",
                "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-s3.config={self.dir / 's3.json'}",
                f"-s3.localSocket={self.dir / 's3.sock'}", "-master.telemetry=false",
                "-webdav=false",
                "-s3.port.iceberg=0", "-s3.port.lance=0",
                *[f"-{name}={port}" for name, port in ports.items()]]
        endpoint = f"http://127.0.0.1:{ports['s3.port']}"
        log(f"[s3] starting SeaweedFS {self.version} (weed mini) at {endpoint} ...")
        t0 = time.perf_counter()
        with open(self.dir / "weed.log", "wb") as out:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True,
                                         preexec_fn=_die_with_parent,
                                         env={**os.environ, "GOMEMLIMIT": "512MiB"})
        res = run([self.python, "-c", _READY_SRC, endpoint, KEY, SECRET, "90"], timeout=120)
        if res.rc != 0 or self.proc.poll() is not None:
            log_text = (self.dir / "weed.log").read_text(errors="replace")
            tail = log_text.strip().splitlines()[-1:]
            self.error = f"S3 server did not start: {first_error_line(res)} {' '.join(tail)}"[:200]
            log(f"WARNING: {self.error}; S3 steps are recorded as FAILED")
            self.stop()
            return False
        self.endpoint = endpoint
        log(f"[s3] ready in {time.perf_counter() - t0:.1f}s (pid {self.proc.pid})")
        return True

    def bucket(self, action: str, name: str) -> str:
        """Create or drop a bucket; returns an error message, or "" on success."""
        res = run([self.python, "-c", _BUCKET_SRC, self.endpoint, KEY, SECRET, action, name],
                  timeout=1800)
        return "" if res.rc == 0 else f"{action} bucket {name}: {first_error_line(res)}"

    def stop(self) -> None:
        """Stop the server by its PID (a throwaway store: SIGKILL, no flush needed) and clean up."""
        if self.proc is not None:
            if self.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            log(f"[s3] stopped SeaweedFS (pid {self.proc.pid})")
            self.proc = None
        for port in self.ports:  # unix sockets weed leaves in /tmp
            for sock in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                sock.unlink(missing_ok=True)
        if self.dir is not None:
            remove_path(self.dir)
            self.dir = None
        self.endpoint = None
