"""What a transfer did, and how it is to run: shared by the loose and the packed paths."""

from __future__ import annotations

from dataclasses import dataclass, field

from dvx.progress import Progress


@dataclass
class TransferResult:
    transferred: int = 0  # objects moved (a count: a million oids need not be kept)
    already_there: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # oid -> reason
    bytes: int = 0

    def merge(self, other: TransferResult) -> None:
        self.transferred += other.transferred
        self.already_there += other.already_there
        self.failed.update(other.failed)
        self.bytes += other.bytes


@dataclass(frozen=True)
class Settings:
    jobs: int
    retries: int
    progress: Progress
