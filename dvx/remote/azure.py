"""Azure Blob Storage's filesystem: adlfs's, with what dvx changes in it.

- Its Azure client is made again with dvx's settings: no retries of its own (dvx retries
  every request: the remote's `retries`) and the remote's timeouts on every request.
- A large file goes up as blocks staged as they are read, then committed as one blob
  (`stage_file`, `commit_blocks`), so that the caller can check the file between the two
  and publish nothing but the version it meant to. adlfs hands the Azure SDK the open file
  with up to 2,500 blocks in flight: the whole file in memory.
- Blobs are deleted each by a request of its own, all at once, and every answer is read
  (`delete_each`): adlfs's rm asks first whether each blob exists, one after another, then
  raises the first error of the deletes only, as a RuntimeError, and none at all when that
  one is a blob gone meanwhile.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

BLOCK_SIZE = 4 << 20  # the Azure SDK's own block size
MAX_BLOCKS = 50_000  # Azure refuses block 50,001 of a blob
# Blocks read and not yet staged, over every upload of a filesystem: what a push holds in
# memory of its large files.
BLOCKS_AT_ONCE = 8


def azure_filesystem(adlfs: Any, client_settings: dict[str, Any]) -> Any:
    """adlfs's filesystem class, its Azure client made with `client_settings`. adlfs makes
    the client with the SDK's defaults: 3 retries of its own, 15 to 40 seconds apart, of
    every request dvx already retries (the remote's `retries`), and the timeouts on a few
    calls only. The client it made is made again, from the endpoint and credential it found,
    with the settings every Azure client takes."""
    from fsspec.asyn import sync_wrapper

    base: Any = adlfs.AzureBlobFileSystem

    class AzureFileSystem(base):
        service_client: Any

        def do_connect(self) -> None:
            super().do_connect()
            made = self.service_client
            self.service_client = type(made)(
                made.url, credential=made.credential,
                secondary_hostname=made.secondary_hostname or None, **client_settings)
            self._blocks_in_memory = asyncio.Semaphore(BLOCKS_AT_ONCE)

        async def _stage_file(self, lpath: str, rpath: str, block_size: int = BLOCK_SIZE,
                              on_bytes: Callable[[int], None] | None = None) -> list[str]:
            """Stage the file `lpath` as uncommitted blocks of the blob `rpath`, read
            `block_size` bytes at a time as they are sent; the blocks' ids, in order, for
            `commit_blocks`. Until then the blob is as it was."""
            container, blob, _ = self.split_path(rpath)
            # This upload's own: another one's blocks of the same blob never mix in.
            prefix = uuid.uuid4().hex
            ids: list[str] = []
            ended = False  # the end of the file was read
            reading = asyncio.Lock()  # one read at a time: the blocks' order is the file's
            async with self.service_client.get_blob_client(container, blob) as client:
                with open(lpath, "rb") as file:

                    async def stage_blocks() -> None:
                        nonlocal ended
                        while True:
                            async with self._blocks_in_memory:
                                async with reading:
                                    if ended:
                                        return
                                    block = await asyncio.to_thread(file.read, block_size)
                                    if not block:
                                        ended = True
                                        return
                                    block_id = f"{prefix}{len(ids):06d}"
                                    ids.append(block_id)
                                await client.stage_block(block_id, block, length=len(block),
                                                         **self._timeout_kwargs)
                            if on_bytes is not None:
                                on_bytes(len(block))

                    await _all_or_none([stage_blocks() for _ in range(BLOCKS_AT_ONCE)])
            return ids

        stage_file = sync_wrapper(_stage_file)

        async def _commit_blocks(self, rpath: str, block_ids: list[str]) -> None:
            """Publish the blob `rpath` made of the staged blocks `block_ids`."""
            container, blob, _ = self.split_path(rpath)
            async with self.service_client.get_blob_client(container, blob) as client:
                await client.commit_block_list(block_ids, metadata={"is_directory": "false"},
                                               **self._timeout_kwargs)
            self.invalidate_cache(self._parent(rpath))

        commit_blocks = sync_wrapper(_commit_blocks)

        async def _delete_each(self, paths: list[str]) -> list[BaseException | None]:
            """Delete the blobs `paths`, each by a request of its own, all at once: what
            each request raised, in their order (None: deleted), so that the caller sees
            every refusal (credentials that may not delete) among them, which adlfs's rm
            would raise as an internal error, or drop after a blob gone meanwhile."""

            async def delete(path: str) -> None:
                container, blob, _ = self.split_path(path)
                async with self.service_client.get_blob_client(container, blob) as client:
                    await client.delete_blob(**self._timeout_kwargs)

            try:
                answers = await asyncio.gather(*(delete(path) for path in paths),
                                               return_exceptions=True)
            finally:
                self.invalidate_cache()
            return list(answers)

        delete_each = sync_wrapper(_delete_each)

    return AzureFileSystem


async def _all_or_none(work: list[Any]) -> None:
    """Await every coroutine of `work` at once; once one fails, the others are cancelled
    (not left sending blocks of an upload that failed) and its error raised."""
    tasks = [asyncio.ensure_future(one) for one in work]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def block_size_for(size: int) -> int:
    """The block size of a file of `size` bytes: BLOCK_SIZE, or, when that would take more
    than Azure's 50,000 blocks (a file above 195 GiB), the fewest whole MiB that take no
    more."""
    fewest = -(-size // MAX_BLOCKS)
    return max(BLOCK_SIZE, -(-fewest // (1 << 20)) << 20)
