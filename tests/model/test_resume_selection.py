"""A training killed after its best epoch and resumed into a new run folder keeps the uninterrupted run's
`best.ckpt` (issue 21, item 1): the selection (best score, best file, top-k) is carried into the new folder."""
from __future__ import annotations

import json

import pytest
import torch

from tests.model.helpers import Killed
from tests.model.test_train_stage import _assert_same_state, _run_into

# The selection metric is `val/items` (the number of validation items scored): it is the same after
# every epoch, so the first validation is the best and no later epoch may replace it (ties keep the
# earlier file). A resume that forgot the best score overwrote best.ckpt at its first validation.
# Grounding: its validation is scored in numpy, without the Java tokenizer and METEOR of the captioning tasks.
COMMON = ["task=grounding", "trainer.max_epochs=2", "stage.test_after_fit=false", "+trainer.limit_train_batches=2",
          "+trainer.limit_val_batches=1", "model.monitor=val/items", "model.generation.num_beams=1",
          "model.max_input_tokens=64", "model.max_output_tokens=24", "model.max_frames=8"]


def test_resume_into_a_new_folder_keeps_the_best_checkpoint(train_cfg, tmp_path):
    straight = _run_into(train_cfg(*COMMON), tmp_path / "straight").parent
    with pytest.raises(Killed):
        _run_into(train_cfg(*COMMON, "+callbacks.kill._target_=tests.model.helpers.KillAfterEpoch",
                            "+callbacks.kill.epoch=0"), tmp_path / "killed")
    killed = tmp_path / "killed" / "checkpoints"
    assert not (tmp_path / "killed" / "summary.json").exists()
    resumed = _run_into(train_cfg(*COMMON, f"stage.resume={killed / 'last.ckpt'}"), tmp_path / "resumed").parent

    def load(path):
        return torch.load(path, map_location="cpu", weights_only=True)

    best, again = load(straight / "best.ckpt"), load(resumed / "best.ckpt")
    assert best["epoch"] == again["epoch"] == 0
    _assert_same_state(best["state_dict"], again["state_dict"])
    # the comparison means something: training went on after the best epoch and changed the weights
    last = load(resumed / "last.ckpt")
    assert last["epoch"] == 1 and any(not torch.equal(v, best["state_dict"][k]) for k, v in last["state_dict"].items())
    # the summary names this folder's best.ckpt and its score, the uninterrupted run's
    a = json.loads((straight.parent / "summary.json").read_text())
    b = json.loads((resumed.parent / "summary.json").read_text())
    assert b["best_checkpoint"] == str(resumed / "best.ckpt") and b["best_score"] == a["best_score"] > 0
    assert (killed / "best.ckpt").is_file()  # the interrupted run's folder is left as it was
