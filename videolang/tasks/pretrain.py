"""Pretraining on narrated videos without chapters: Vid2Seq's generative and denoising objectives.

VidChapters initialises its chapter model from Vid2Seq, pretrained on narrated videos
that have no chapters, with their own speech as the target (Vid2Seq / VidChapters-7M, antoyang/VidChapters):

- **generative**: the frames (and the common-sense stream when the model reads it) with an
  (almost) empty text input (`</s>` alone) in; the whole transcript as `<s><e> sentence`
  sequences out (the events target, with ASR sentences as events, up to `max_output_tokens`).
  The model learns to say what is said *when* it is said from the picture: time tokens
  and language at once, which chapter generation then fine-tunes.
- **denoising**: the frames plus the transcript (with its time tokens) under T5 span
  corruption in (`noise_density` 0.25, `mean_span` 5, sentinel tokens); the masked spans out.

Loss = `generative_weight` x generative + `denoising_weight` x denoising (1.0 and 1.0 in the
paper). Reads `tasks/pretrain_<split>.jsonl` (`{vid, duration}` per video, written by
`stage=build_dataset` with the `pretrain` task: every kept video, chapters or not); the
transcript comes from the feature store (the extract stage's ASR, or imported narration).
A video without speech is skipped at reading time when the source can tell (counted
`no_speech_skipped`), since it would teach only `</s>`. Validation decodes the generative
output and scores it as dense captioning against the ASR sentences (`val/soda_c`, ...).
A model fine-tunes from the checkpoint with `model.init_from=<pretrain ckpt>`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from videolang.backbone.losses import denoising_batch, label_smoothed_ce, sentinel_ids
from videolang.backbone.sequences import SequenceBuilder
from videolang.core.errors import BadInputError, ConfigError
from videolang.core.io import read_jsonl
from videolang.tasks.base import DataReport, Entry, finite_number, frame_item
from videolang.tasks.events import EventsTask


class PretrainTask(EventsTask):
    """Narrated videos, no chapters: the transcript from the frames (generative) + span denoising."""

    name = "pretrain"
    produces = "transcript"
    file_pattern = "pretrain_{split}.jsonl"
    needs_text_encoder = True   # the denoising objective reads the transcript
    log_keys = ("soda_c", "cider", "meteor", "f1@0.5", "precision", "recall")

    def __init__(self, name: str | None = None, max_input_tokens: int | None = None,
                 max_output_tokens: int | None = None, generative_weight: float = 1.0,
                 denoising_weight: float = 1.0, noise_density: float = 0.25, mean_span: float = 5.0,
                 dedup_titles: bool | None = False):
        # transcripts repeat sentences ("stir it again"): kept unless asked (null = the model's dedup_titles)
        super().__init__(name, max_input_tokens, max_output_tokens, dedup_titles=dedup_titles)
        self.generative_weight, self.denoising_weight = float(generative_weight), float(denoising_weight)
        self.noise_density, self.mean_span = float(noise_density), float(mean_span)
        if self.generative_weight < 0 or self.denoising_weight < 0 or not (self.generative_weight
                                                                           or self.denoising_weight):
            raise ConfigError("pretrain weights must be >= 0 and not both 0, got generative "
                              f"{generative_weight}, denoising {denoising_weight}")
        if not 0 < self.noise_density < 1 or self.mean_span < 1:
            raise ConfigError(f"pretrain needs 0 < noise_density < 1 and mean_span >= 1, got {noise_density}, "
                              f"{mean_span}")
        self.sentinels: list[int] = []
        self._eos, self._pad = 1, 0

    def options(self) -> dict[str, Any]:
        return {**super().options(), "generative_weight": self.generative_weight,
                "denoising_weight": self.denoising_weight, "noise_density": self.noise_density,
                "mean_span": self.mean_span}

    def make_builder(self, tokenizer: Any, num_time_tokens: int, max_input_tokens: int,
                     max_output_tokens: int) -> SequenceBuilder:
        self.sentinels = sentinel_ids(tokenizer)
        if self.denoising_weight and not self.sentinels:
            raise ConfigError("the denoising objective needs T5 sentinel tokens (<extra_id_0>, ...) in the "
                              "tokenizer; set task.head.denoising_weight=0 for a tokenizer without them")
        builder = super().make_builder(tokenizer, num_time_tokens, max_input_tokens, max_output_tokens)
        self._eos, self._pad = builder.eos_id, builder.pad_id  # the loss sees batches, not the builder
        return builder

    # ------------------------------------------------------------------- data
    def read_file(self, path: Path) -> list[dict]:
        return read_jsonl(path)

    def read_entries(self, data: Any, where: str, builder: SequenceBuilder, report: DataReport) -> list[Entry]:
        if not isinstance(data, list):
            raise BadInputError("expected JSON Lines rows {vid, duration}", where)
        entries, seen = [], set()
        for n, row in enumerate(data, start=1):
            if not isinstance(row, dict) or "vid" not in row:
                raise BadInputError(f"row {n}: expected {{vid, duration}}", where)
            vid = str(row["vid"])
            if vid in seen:
                raise BadInputError(f"video {vid!r} listed twice (row {n})", where)
            seen.add(vid)
            duration = finite_number(row.get("duration"))
            if duration is None or duration <= 0:
                report.fail(f"{where}/{vid}", f"bad duration {row.get('duration')!r}")
                continue
            entries.append(Entry(vid, vid, duration))
        return entries

    def build_item(self, entry: Entry, feats, builder: SequenceBuilder, max_frames: int, use_speech: bool = True,
                   commonsense: str | None = None) -> dict[str, Any]:
        speech = list(feats.speech)
        return frame_item(entry, feats, np.arange(len(feats.frames)), max_frames,
                          builder.transcript_ids(speech, entry.duration), builder.target_ids(speech, entry.duration),
                          self.name, commonsense, references=[(s.start, s.end, s.text) for s in speech])

    # ---------------------------------------------------------- loss / infer
    @staticmethod
    def withheld(batch: dict[str, Any], eos_id: int) -> dict[str, Any]:
        """The batch with its text input replaced by `</s>` alone (the generative objective's input)."""
        n = batch["input_ids"].shape[0]
        ids = torch.full((n, 1), eos_id, dtype=torch.long, device=batch["input_ids"].device)
        return {**batch, "input_ids": ids, "attention_mask": torch.ones_like(ids)}

    def loss(self, net: Any, batch: dict[str, Any], smoothing: float) -> tuple[torch.Tensor, dict[str, Any]]:
        logged: dict[str, Any] = {}
        total = torch.zeros((), device=batch["labels"].device)
        if self.generative_weight:
            gen = label_smoothed_ce(net(self.withheld(batch, self._eos)), batch["labels"], smoothing)
            total = total + self.generative_weight * gen
            logged["generative_loss"] = gen
        if self.denoising_weight:
            # seeded from the global RNG, which the module re-seeds from (seed, step) before every step
            gen_rng = torch.Generator().manual_seed(int(torch.randint(0, 2**62, (1,)).item()))
            ids, mask, labels = denoising_batch(batch["input_ids"], batch["attention_mask"], self.sentinels,
                                                self._pad, self._eos, gen_rng, self.noise_density, self.mean_span)
            den = label_smoothed_ce(net(batch, labels=labels, input_ids=ids, attention_mask=mask), labels, smoothing)
            total = total + self.denoising_weight * den
            logged["denoising_loss"] = den
        return total, logged

    def infer(self, net: Any, batch: dict[str, Any], meta, builder: SequenceBuilder,
              generation: dict[str, Any]) -> list[dict]:
        return super().infer(net, self.withheld(batch, builder.eos_id), meta, builder, generation)
