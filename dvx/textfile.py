"""Text files people write, which dvx edits (.gitignore, dvx.yaml, params files): read
without what only their editor put there, written back in the file's own style.

A file committed from Windows (with `core.autocrlf=false`) may end its lines with "\r\n",
and some editors put a UTF-8 byte order mark first. An edit keeps both, so that it changes
only the lines it means to change, and Git shows just those.
"""

from __future__ import annotations

BOM = "\ufeff"  # a byte order mark some editors put first; Git skips it


def plain_text(data: bytes, errors: str = "strict") -> str:
    """`data` as text for a parser: without a byte order mark, lines ended by "\n"."""
    return data.decode("utf-8", errors).removeprefix(BOM).replace("\r\n", "\n")


def as_written(data: bytes) -> str:
    """`data` as text with each line's own end ("\r\n" or "\n"), for an edit that replaces
    some text in place and keeps every other byte; without a byte order mark."""
    return data.decode("utf-8").removeprefix(BOM)


def with_bom_like(text: str, like: bytes) -> bytes:
    """`text` (as `as_written` reads it, edited) as a file's bytes, with the byte order mark
    of `like`, the file's current content, and its line ends as `text` has them."""
    return ((BOM if like.startswith(BOM.encode()) else "") + text).encode("utf-8")


def encode_like(text: str, like: bytes, errors: str = "strict") -> bytes:
    """`text` (lines ended by "\n") as a file's bytes, with the line end (Windows' if it
    uses it) and the byte order mark of `like`, the file's current content."""
    if b"\r\n" in like:
        text = text.replace("\n", "\r\n")
    if like.startswith(BOM.encode()):
        text = BOM + text
    return text.encode("utf-8", errors)
