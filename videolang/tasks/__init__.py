"""Task modules on the shared Vid2Seq backbone, chosen by the `task` config group (`task.head`).

- `base`: the `Seq2SeqTask` interface and `Entry` (one unit of a task file), `frame_item`.
- `events`: chapter generation and dense captioning (whole video in, `<s><e> title` events out).
- `titles`: chapter captioning with ground-truth boundaries (one chapter in, its title out).
- `grounding`: a query and the whole video in, ranked `[start, end, score]` windows out.
- `pretrain`: narrated videos without chapters: the transcript from the frames (generative) and
  span denoising of the transcript, Vid2Seq's pretraining.
- `videoqa`: a question, its candidate answers and the video (or its `ts` span) in, one answer
  out, chosen by the decoder's likelihood of each candidate (TVQA-style multiple choice).

`build_tasks(spec)` turns a task name (the old `task: <name>` argument of checkpoints and
tests, looked up in `REGISTRY`), a `{_target_, ...}` dict (a `head:` block, or what a
checkpoint stored), a task object, or a `TaskMix` into a `TaskMix`: the tasks one model
trains on, with their sampling ratio. The LightningModule and the data module only ever
talk to the tasks through it.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from videolang.core.errors import ConfigError
from videolang.tasks.base import DataReport, Entry, Seq2SeqTask, frame_item, log_name
from videolang.tasks.events import EventsTask
from videolang.tasks.grounding import GroundingTask
from videolang.tasks.pretrain import PretrainTask
from videolang.tasks.titles import TitlesTask
from videolang.tasks.videoqa import VideoQATask

# The one place old task names (and the former item "modes") map to task modules.
REGISTRY: dict[str, tuple[type[Seq2SeqTask], dict[str, Any]]] = {
    "chapter_generation": (EventsTask, {"name": "chapter_generation"}),
    "dense_captioning": (EventsTask, {"name": "dense_captioning"}),
    "chapter_captioning": (TitlesTask, {"name": "chapter_captioning"}),
    "grounding": (GroundingTask, {"name": "grounding"}),
    "videoqa": (VideoQATask, {"name": "videoqa"}),
    "pretrain": (PretrainTask, {"name": "pretrain"}),
    "events": (EventsTask, {}),
    "titles": (TitlesTask, {}),
}


def _target(path: str) -> Any:
    import hydra.utils

    try:
        return hydra.utils.get_object(str(path))
    except Exception as e:  # noqa: BLE001 - hydra raises several kinds for a bad dotted path
        raise ConfigError(f"cannot import task head {path!r}: {str(e).splitlines()[0]}") from None


def build_task(spec: str | Mapping | Seq2SeqTask) -> Seq2SeqTask:
    """One task from a registry name, a `{_target_, options}` dict or an instance."""
    if isinstance(spec, Seq2SeqTask):
        return spec
    if isinstance(spec, str):
        if spec not in REGISTRY:
            raise ConfigError(f"unknown task {spec!r}; one of {sorted(REGISTRY)}")
        cls, options = REGISTRY[spec]
        return cls(**options)
    if isinstance(spec, Mapping) and "_target_" in spec:
        obj = _target(spec["_target_"])(**{k: v for k, v in spec.items() if k != "_target_"})
        if not isinstance(obj, Seq2SeqTask):
            raise ConfigError(f"task head {spec['_target_']} is not a Seq2SeqTask")
        return obj
    raise ConfigError(f"not a task: {spec!r} (a task name or a {{_target_: ...}} head)")


class TaskMix:
    """The tasks of one model, by name, and the proportions the training sampler draws them in.

    A single task is a mix of one (metrics unprefixed: `val/cider`); with several, metric
    names carry the task (`val/grounding/r1_0.5`) and prediction files its name.
    `ratio` maps task name -> weight (default 1 each); `epoch_size` is the number of
    training items drawn per epoch (null: as many as all tasks' training items together).
    """

    def __init__(self, tasks: Mapping[str, Any] | list, ratio: Mapping[str, float] | None = None,
                 epoch_size: int | None = None):
        items = list(tasks.items()) if isinstance(tasks, Mapping) else [(None, t) for t in tasks]
        self.tasks: dict[str, Seq2SeqTask] = {}
        for key, spec in items:
            task = build_task(spec)
            if key is not None and task.name != key:  # the key names the task in a mix
                task.name = str(key)
            if task.name in self.tasks:
                raise ConfigError(f"two tasks named {task.name!r} in one mix")
            self.tasks[task.name] = task
        if not self.tasks:
            raise ConfigError("a task mix needs at least one task")
        ratio = dict(ratio or {})
        unknown = set(ratio) - set(self.tasks)
        if unknown:
            raise ConfigError(f"ratio names unknown tasks {sorted(unknown)}; tasks: {sorted(self.tasks)}")
        self.ratio = {n: float(ratio.get(n, 1.0)) for n in self.tasks}
        if any(w < 0 for w in self.ratio.values()) or not any(self.ratio.values()):
            raise ConfigError(f"task ratios must be >= 0 and not all 0, got {self.ratio}")
        self.epoch_size = None if epoch_size is None else int(epoch_size)

    def __iter__(self) -> Iterator[Seq2SeqTask]:
        return iter(self.tasks.values())

    def __len__(self) -> int:
        return len(self.tasks)

    def __getitem__(self, name: str) -> Seq2SeqTask:
        return self.tasks[name]

    @property
    def primary(self) -> Seq2SeqTask:
        return next(iter(self.tasks.values()))

    @property
    def multi(self) -> bool:
        return len(self.tasks) > 1

    def get(self, name: str | None) -> Seq2SeqTask:
        """The task of an item (`item["task"]`); items without one belong to the primary task."""
        return self.tasks[name] if name in self.tasks else self.primary

    def producing(self, what: str) -> Seq2SeqTask | None:
        """The first task whose decode returns `what` ("events", "title", "windows", "answer", "transcript"),
        or None."""
        return next((t for t in self if t.produces == what), None)

    def prefix(self, split: str, task: Seq2SeqTask) -> str:
        return f"{split}/{task.name}/" if self.multi else f"{split}/"

    def spec(self) -> dict[str, Any]:
        if not self.multi and self.epoch_size is None:
            return self.primary.spec()
        return {"_target_": f"{__name__}.TaskMix", "tasks": {n: t.spec() for n, t in self.tasks.items()},
                "ratio": dict(self.ratio), "epoch_size": self.epoch_size}


def build_tasks(spec: Any) -> TaskMix:
    """A `TaskMix` from a task name, a head dict (one task or a mix), a task or a mix."""
    if isinstance(spec, TaskMix):
        return spec
    if isinstance(spec, Mapping) and str(spec.get("_target_", "")).endswith(".TaskMix"):
        return TaskMix(**{k: v for k, v in spec.items() if k != "_target_"})
    return TaskMix([build_task(spec)])


__all__ = ["REGISTRY", "DataReport", "Entry", "EventsTask", "GroundingTask", "PretrainTask", "Seq2SeqTask",
           "TaskMix", "TitlesTask", "VideoQATask", "build_task", "build_tasks", "frame_item", "log_name"]
