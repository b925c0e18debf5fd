"""`stage=test`: a checkpoint on one split of a built dataset, no training.

    python -m videolang.run stage=test ckpt=logs/train/<run>/checkpoints/best.ckpt split=test
    python -m videolang.run stage=test ckpt=imported/vidchapters_htm_vc.ckpt stage.dataset=vidchapters \
        paths.feature_dir=features/vidchapters trainer=ddp trainer.devices=8

The model, its tasks, token budgets and tokenizer come from the checkpoint (an imported VidChapters one
too); the data module from `stage.datamodule` (the built dataset's task files of `split` and the feature
store), decoded with Lightning's `trainer.test` under any trainer config (DDP ranks decode their share;
the outputs are gathered). The run folder gets each task's predictions in the reference layout
(`predictions_<split>.json`: the submission VidChapters' `dvc_eval/eval_dvc.py` reads for chapters / dense
captioning; Moment-DETR JSON Lines for grounding) and `metrics.json` with both protocols: `compat` (the
reference tools' numbers, comparable with papers) and `corrected` (docs/evaluate.md).
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
import uuid
import warnings
from pathlib import Path
from typing import Any

import lightning as L
import torch
from omegaconf import DictConfig, OmegaConf

from videolang.core.errors import BadInputError
from videolang.core.io import atomic_write_json
from videolang.core.options import instantiate
from videolang.evaluate import Meteor
from videolang.model.base import TaskModule
from videolang.model.loading import load_module
from videolang.stages import StageResult
from videolang.stages.train import EPOCH_LEVEL_SYNC, check_launcher, wait_for_other_ranks
from videolang.tasks.base import log_name
from videolang.training.devices import warn_if_large_on_cpu

log = logging.getLogger(__name__)
PROTOCOLS = ("compat", "corrected")


def build_datamodule(cfg: DictConfig, module: TaskModule, split: str):
    """`stage.datamodule` with everything the checkpoint decides (tasks, tokenizer, budgets) taken from it."""
    hp = module.hparams
    given = {"tokenizer": module.tokenizer, "head": hp.get("head"), "task": hp.get("task"),
             "num_time_tokens": hp.num_time_tokens, "max_input_tokens": hp.max_input_tokens,
             "max_output_tokens": hp.max_output_tokens, "max_frames": hp.max_frames, "use_speech": hp.use_speech,
             "commonsense": hp.get("commonsense"), "sentence_style": hp.get("sentence_style", "plain"),
             "splits": {"test": split}}
    spec = OmegaConf.to_container(cfg.stage.datamodule, resolve=True)
    return instantiate({**spec, **{k: v for k, v in given.items() if k != "tokenizer"}}, "stage.datamodule",
                       tokenizer=given["tokenizer"])


class LazyMeteor:
    """A METEOR process started on first use: its start costs seconds of CPU, and a split whose predictions give
    it nothing to score (or a task without text) needs none. Shared by the module's test scoring and
    `score_both`, so a run starts at most one."""

    def __init__(self) -> None:
        self._meteor: Meteor | None = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # pickling and copying probe for these: never start a process for them
            raise AttributeError(name)
        if self.__dict__.get("_meteor") is None:
            self._meteor = Meteor()
        return getattr(self._meteor, name)

    def close(self) -> None:
        if self.__dict__.get("_meteor") is not None:
            self._meteor.close()
            self._meteor = None


def score_both(module: TaskModule, outputs: list[dict[str, Any]], meteor: Any) -> dict[str, dict[str, float]]:
    """{protocol: {metric: value}} over every task (names `<task>/<metric>` in a mix)."""
    out: dict[str, dict[str, float]] = {p: {} for p in PROTOCOLS}
    for task in module.tasks:
        mine = [o for o in outputs if o.get("task") == task.name]
        if not mine:
            continue
        prefix = f"{task.name}/" if module.tasks.multi else ""
        for protocol in PROTOCOLS:
            scores = task.score(mine, compat=protocol == "compat", full=True,
                                meteor=meteor if task.needs_meteor else None)
            scores["items"] = float(len(mine))
            out[protocol].update({f"{prefix}{k}": float(v) for k, v in scores.items()})
    return out


def run(cfg: DictConfig) -> StageResult:
    ckpt = Path(str(cfg.ckpt))
    split = str(cfg.split)
    if not ckpt.is_file():
        raise BadInputError("checkpoint not found" if not ckpt.exists() else "checkpoint is not a file", ckpt)
    threads = cfg.stage.get("torch_threads")
    before, omp_before = torch.get_num_threads(), os.environ.get("OMP_NUM_THREADS")
    if threads:  # as stage=train: one thread suits tiny models on a small shared CPU
        torch.set_num_threads(int(threads))
        os.environ["OMP_NUM_THREADS"] = str(int(threads))
    try:
        return _test(cfg, ckpt, split)
    finally:
        torch.set_num_threads(before)
        if threads:
            os.environ.pop("OMP_NUM_THREADS", None) if omp_before is None else os.environ.update(
                OMP_NUM_THREADS=omp_before)


def unanswered(task, outputs: list[dict[str, Any]], split: str, submission: Path | None,
               scores: dict[str, float], prefix: str) -> dict[str, str]:
    """{task: why} when the task scored nothing because no item of the split has its answer (TVQA's test-public):
    said in one log line, not an error; the predictions (and the leaderboard file) are what the run is for."""
    if any(k.startswith(prefix) and k != f"{prefix}items" for k in scores):
        return {}
    where = f"; submission for the leaderboard: {submission}" if submission is not None else ""
    why = f"split '{split}' has no answers ({len(outputs)} items): metrics skipped{where}"
    log.info("%s: %s", task.name, why)
    return {task.name: why}


class TestOutputs(L.Callback):
    """Rank 0 writes the predictions and `metrics.json` when the test loop ends, in whichever process it runs:
    this one, a rank Lightning's `ddp` launcher started from the command line, or a spawned copy
    (`ddp_spawn`, which hands back only weights: what the summary needs comes back through a file)."""

    def __init__(self, ckpt: Path, split: str, out_dir: Path):
        self.ckpt, self.split, self.out_dir = ckpt, split, out_dir
        self.handoff = Path(tempfile.gettempdir()) / f"videolang-test-{os.getpid()}-{uuid.uuid4().hex}.json"
        self.result: dict[str, Any] | None = None

    def setup(self, trainer: L.Trainer, module: TaskModule, stage: str) -> None:
        from lightning.fabric.utilities.warnings import PossibleUserWarning

        # every rank scores the outputs gathered from all ranks: "use sync_dist" does not apply (as in stage=train)
        warnings.filterwarnings("ignore", message=EPOCH_LEVEL_SYNC, category=PossibleUserWarning)
        # ...and drops the items the distributed sampler repeats to even out the ranks (each is scored once)
        warnings.filterwarnings("ignore", message=r"Using `DistributedSampler` with the dataloaders\. During "
                                r"`trainer\.test\(\)`")

    def on_test_end(self, trainer: L.Trainer, module: TaskModule) -> None:
        meteor = module._meteor if module._meteor is not None else LazyMeteor()
        module._meteor = None
        try:
            if not trainer.is_global_zero:
                return
            outputs = getattr(module, "last_outputs", None) or []
            metrics = score_both(module, outputs, meteor)
            files, unscored = {}, {}
            for task in module.tasks:
                mine = [o for o in outputs if o.get("task") == task.name]
                if mine:
                    suffix = f"_{task.name}" if module.tasks.multi else ""
                    stem = self.out_dir / f"predictions_{self.split}{suffix}"
                    files[task.name] = str(task.write_predictions(mine, stem))
                    submission = task.write_submission(mine, self.out_dir / f"submission_{self.split}{suffix}")
                    if submission is not None:
                        files[f"{task.name}/submission"] = str(submission)
                    unscored.update(unanswered(task, mine, self.split, submission, metrics["compat"],
                                               f"{task.name}/" if module.tasks.multi else ""))
            record = {"checkpoint": str(self.ckpt), "split": self.split, "primary": "compat", **metrics}
            if unscored:
                record["not_scored"] = unscored
            files["metrics"] = str(atomic_write_json(self.out_dir / "metrics.json", record))
            self.result = {"metrics": metrics, "files": files, **({"not_scored": unscored} if unscored else {})}
            atomic_write_json(self.handoff, self.result)
        finally:
            meteor.close()

    def collect(self) -> dict[str, Any] | None:
        """Rank 0's result: recorded here, or handed over by a spawned rank 0."""
        if self.result is None and self.handoff.is_file():
            self.result = json.loads(self.handoff.read_text())
        self.handoff.unlink(missing_ok=True)
        return self.result


def _test(cfg: DictConfig, ckpt: Path, split: str) -> StageResult:
    module = load_module(ckpt, model_dir=cfg.paths.get("model_dir"))  # a Vid2Seq or a Moment-DETR checkpoint
    datamodule = build_datamodule(cfg, module, split)
    datamodule.setup("test")
    width, expected = datamodule.visual_dim, module.hparams.visual_dim
    concat = getattr(getattr(module, "commonsense", None), "active_fusion", None) == "concat"
    extra = int(module.hparams.get("commonsense_dim") or 0) if concat else 0
    if getattr(module.net, "use_video", True) and width is not None and int(width) != int(expected) + extra:
        raise BadInputError(f"the features of split '{split}' are {width} wide, the checkpoint's model reads "
                            f"{expected}: point paths.feature_dir at the features it was trained on",
                            cfg.stage.datamodule.feature_dir)
    writer = TestOutputs(ckpt, split, Path(cfg.paths.output_dir))
    trainer = instantiate(cfg.trainer, "trainer", logger=False, enable_checkpointing=False, callbacks=[writer])
    check_launcher(trainer)
    warn_if_large_on_cpu(trainer, module, "test")
    # one METEOR process, started only if something needs scoring, for the module's own scoring and both protocols
    module._meteor, module.keep_meteor = LazyMeteor(), True
    trainer.test(module, datamodule, verbose=False)
    result = writer.collect()
    summary: dict[str, Any] = {"checkpoint": str(ckpt), "split": split, "skipped_videos": datamodule.failures.as_rows(),
                               "data": datamodule.summary()}
    if result is not None:
        summary.update(result)
        headline = [(f"{task.name}/" if module.tasks.multi else "") + log_name(k) for task in module.tasks
                    for k in task.log_keys]
        for protocol in PROTOCOLS:
            scores = result["metrics"][protocol]
            shown = [f"{k}={scores[k]:.4f}" for k in headline if k in scores]
            if shown:  # a split without answers has none (said above)
                log.info("%s (%s): %s", split, protocol, ", ".join(shown))
    if datamodule.failures:
        log.warning(datamodule.failures.summary())
    wait_for_other_ranks(trainer)
    # skipped videos make rank 0 exit 3; the other ranks exit 0 (Lightning's ddp launcher kills every rank
    # as soon as one it started exits non-zero), as in stage=train
    return StageResult(summary, failed=len(datamodule.failures) if trainer.is_global_zero else 0)
