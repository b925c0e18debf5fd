"""Collect per-item failures in long runs: keep going, report everything at the end."""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import asdict, dataclass, field

log = logging.getLogger(__name__)


@dataclass
class Failure:
    item: str
    reason: str
    path: str | None = None


@dataclass
class FailureLog:
    """Failures of one run. `record` logs immediately; `summary` groups them for the final report."""

    stage: str
    failures: list[Failure] = field(default_factory=list)

    def record(self, item: str, reason: str, path: str | None = None) -> None:
        self.failures.append(Failure(item, reason, path))
        log.warning("%s: skipped %s (%s)%s", self.stage, item, reason, f" [{path}]" if path else "")

    def __len__(self) -> int:
        return len(self.failures)

    def __bool__(self) -> bool:
        return bool(self.failures)

    def as_rows(self) -> list[dict]:
        return [asdict(f) for f in self.failures]

    def summary(self) -> str:
        if not self.failures:
            return f"{self.stage}: no failures"
        counts = Counter(f.reason.split(":")[0] for f in self.failures)
        lines = [f"{self.stage}: {len(self.failures)} item(s) failed"]
        lines += [f"  - {f.item}: {f.reason}" + (f" [{f.path}]" if f.path else "") for f in self.failures[:50]]
        if len(self.failures) > 50:
            lines.append(f"  ... and {len(self.failures) - 50} more; by reason: {dict(counts)}")
        return "\n".join(lines)
