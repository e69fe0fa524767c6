"""The benchmark's S3 floor program (one tar object up, down, and down into `tar -x`) runs
against a real S3 server with dvx's own client, so a change of that client's signature
cannot silently turn the floor into "skipped"."""
from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from bench_lib.floors import TAR_TRANSFER_SRC


def _transfer(s3: dict[str, Any], target: str, path: Path, mode: str) -> float:
    done = subprocess.run([sys.executable, "-c", TAR_TRANSFER_SRC, s3["endpoint_url"], s3["key"],
                           s3["secret"], target, str(path), mode],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return float(done.stdout.split()[-1])


def test_the_s3_floor_sends_a_tar_object_up_and_brings_it_back_and_unpacked(moto_s3, tmp_path):
    import boto3

    boto3.client("s3", endpoint_url=moto_s3["endpoint_url"], aws_access_key_id=moto_s3["key"],
                 aws_secret_access_key=moto_s3["secret"], region_name="us-east-1"
                 ).create_bucket(Bucket="floor")
    data = tmp_path / "data"
    data.mkdir()
    for i in range(20):
        (data / f"f{i}").write_bytes(bytes([i]) * (1000 + i))
    tar = tmp_path / "w.tar"
    with tarfile.open(tar, "w") as out:
        out.add(data, arcname="data")

    assert _transfer(moto_s3, "floor/w.tar", tar, "put") >= 0
    assert _transfer(moto_s3, "floor/w.tar", tmp_path / "got.tar", "get") >= 0
    assert (tmp_path / "got.tar").read_bytes() == tar.read_bytes()
    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()
    assert _transfer(moto_s3, "floor/w.tar", unpacked, "unpack") >= 0
    assert {p.name: p.read_bytes() for p in (unpacked / "data").iterdir()} == {
        p.name: p.read_bytes() for p in data.iterdir()}


