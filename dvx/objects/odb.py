"""ObjectStore: one content-addressed layout for the cache and for every remote.

    <root>/files/<algo>/<first 2 hex digits>/<remaining hex digits>

The store sits on a Blobs store (blobs.py: a directory, or any network store), so a remote is
just another ObjectStore. Objects are immutable: once an oid's path exists it is never
rewritten. Names starting with '.' in a shard directory are in-flight temporary files and are
never reported as objects.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from typing import IO

from dvx.errors import MODIFY_A_REMOTE
from dvx.hashing import DEFAULT_ALGO, check_oid
from dvx.objects import layout
from dvx.objects.blobs import Blobs, Details, OnBytes, Upload


class ObjectStore:
    def __init__(self, blobs: Blobs, algo: str = DEFAULT_ALGO, *, url: str | None = None,
                 secrets: tuple[str, ...] = ()) -> None:
        self.blobs = blobs
        self.root = blobs.root
        self.url = url or self.root  # for messages: the URL as configured, secrets hidden
        self.name = ""  # the remote's name, for messages (set by the code that opens it)
        # The command that changes its options, for hints (set by the code that opens it).
        self.modify = MODIFY_A_REMOTE
        # Where its objects are, the same for every remote name and URL spelling that leads
        # there (set by the code that opens it: remote/fs.py store_location).
        self.location = self.root
        self.algo = algo
        self.secrets = secrets  # values never to show in messages
        self.files_dir = layout.files_dir(algo)
        self.files_root = posixpath.join(self.root, self.files_dir)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.root!r}, algo={self.algo!r})"

    @property
    def read_only(self) -> bool:
        return self.blobs.read_only

    @property
    def can_list(self) -> bool:
        return self.blobs.can_list

    def oid_name(self, oid: str) -> str:
        """The object's name in its store (relative to the root)."""
        return layout.object_name(check_oid(oid, self.algo), self.algo)

    def oid_path(self, oid: str) -> str:
        check_oid(oid, self.algo)
        return f"{self.files_root}/{oid[:2]}/{oid[2:]}"

    def exists(self, oid: str) -> bool:
        return self.blobs.exists(self.oid_name(oid))

    def list_oids(self) -> Iterator[str]:
        for name in self.blobs.walk(self.files_dir):
            oid = self._oid_of(name)
            if oid is not None:
                yield oid

    def _oid_of(self, name: str) -> str | None:
        """The oid an object's name stands for; None for temporaries and strays."""
        return layout.oid_of(name, self.algo)

    def quarantine(self, oid: str) -> str:
        """Move a corrupt object aside (never delete it): <root>/quarantine/<oid>.<time>."""
        import time

        target = f"quarantine/{oid}.{time.time_ns()}"
        self.blobs.move(self.oid_name(oid), target)
        return self.blobs.path(target)

    def list_with_details(self) -> dict[str, tuple[int, float | None]]:
        """{oid: (size, modification time as a POSIX timestamp, or None if unknown)}."""
        return self._objects_in(self.blobs.walk_details(self.files_dir))

    def list_with_uploads(self) -> tuple[dict[str, tuple[int, float | None]], list[Upload]]:
        """The objects, as `list_with_details`, and the store's unfinished uploads (Blobs.
        unfinished_uploads), from one listing where the store keeps those as files."""
        listed, uploads = self.blobs.walk_details_and_uploads(self.files_dir)
        return self._objects_in(listed), uploads

    def _objects_in(self, listed: Details) -> dict[str, tuple[int, float | None]]:
        found: dict[str, tuple[int, float | None]] = {}
        for name, details in listed.items():
            oid = self._oid_of(name)
            if oid is not None:
                found[oid] = details
        return found

    def delete(self, oids: list[str]) -> None:
        """Delete objects (gc only)."""
        self.blobs.delete([self.oid_name(oid) for oid in oids])

    # -- logs: small records beside the objects (push logs, read by gc --remote) -------------

    @property
    def single_requests(self) -> Blobs:
        """The store for requests of one record each (the logs): a remote's retries them,
        and sends none once a request waited out its timeout (remote/retry.py)."""
        return self.blobs

    def write_log(self, kind: str, name: str, data: bytes) -> None:
        """Store a new, uniquely named log record (never overwriting one)."""
        self.single_requests.put(f"{layout.LOGS_DIR}/{kind}/{name}", data)

    def list_logs(self, kind: str) -> Details:
        """{name: (size, the time the store wrote it, or None if its listing gives none)}."""
        return self.single_requests.details(f"{layout.LOGS_DIR}/{kind}")

    def read_log(self, kind: str, name: str, limit: int) -> bytes:
        return self.single_requests.get(f"{layout.LOGS_DIR}/{kind}/{name}", 0, limit + 1)

    def delete_logs(self, kind: str, names: list[str]) -> None:
        self.single_requests.delete([f"{layout.LOGS_DIR}/{kind}/{name}" for name in names])

    def size(self, oid: str) -> int:
        return self.blobs.size(self.oid_name(oid))

    def open(self, oid: str, block_size: int | None = None) -> IO[bytes]:
        return self.blobs.open(self.oid_name(oid), block_size)

    def read_bytes(self, oid: str) -> bytes:
        return self.blobs.get(self.oid_name(oid))

    def put_file(self, local_path: str, oid: str, on_bytes: OnBytes | None = None) -> None:
        """Upload a local file as object `oid`, never exposing a partial object; `on_bytes`
        is told how far it got."""
        self.blobs.put_file(self.oid_name(oid), local_path, on_bytes)
