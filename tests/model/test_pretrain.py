"""Pretraining (Vid2Seq's generative + denoising objectives on narrated videos) and `model.init_from`."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from videolang.backbone.sequences import Segment
from videolang.backbone.sources import VideoFeatures
from videolang.core.errors import BadInputError, ConfigError
from videolang.core.failures import FailureLog
from videolang.datamodule.vid2seq import collator_for
from videolang.tasks import DataReport, PretrainTask, build_task

VDIM = 6


def features() -> VideoFeatures:
    speech = [Segment(1.0, 4.0, "first we mix the dough"), Segment(12.0, 15.0, "now the sauce"),
              Segment(25.0, 28.0, "and we are done")]
    return VideoFeatures(np.random.default_rng(0).normal(size=(30, VDIM)).astype(np.float32), np.arange(30.0),
                         speech, 30.0)


@pytest.fixture(scope="module")
def module(tiny_t5):
    from videolang.model.module import Vid2SeqModule

    return Vid2SeqModule(backbone=str(tiny_t5), visual_dim=VDIM, task="pretrain", max_input_tokens=96,
                         max_output_tokens=96, visual_layers=1, visual_heads=2)


def test_item_is_the_timed_transcript_in_and_out(module):
    task, b = module.task, module.builders["pretrain"]
    (entry,) = task.read_entries([{"vid": "v", "duration": 30.0}], "pretrain_train.jsonl", b,
                                 DataReport(FailureLog("t")))
    item = task.build_item(entry, features(), b, max_frames=16)
    assert item["input_ids"] == b.transcript_ids(features().speech, 30.0)
    assert item["labels"] == b.target_ids(features().speech, 30.0) and len(item["labels"]) > 10
    assert item["references"][1] == (12.0, 15.0, "now the sauce") and len(item["frames"]) == 16
    assert task.spec()["_target_"] == "videolang.tasks.pretrain.PretrainTask"
    assert build_task(task.spec()).options() == task.options()


def test_generative_loss_ignores_the_transcript_input_and_denoising_reads_it(module):
    task, b = module.task, module.builders["pretrain"]
    entry = task.read_entries([{"vid": "v", "duration": 30.0}], "w", b, DataReport(FailureLog("t")))[0]
    batch = collator_for(b.pad_id, VDIM)([task.build_item(entry, features(), b, 16)] * 2)
    other = dict(batch, input_ids=torch.flip(batch["input_ids"], dims=[1]))
    module.eval()
    with torch.no_grad():
        torch.manual_seed(0)
        loss, logged = task.loss(module.net, batch, 0.0)
        torch.manual_seed(0)
        _, logged_other = task.loss(module.net, other, 0.0)
    assert set(logged) == {"generative_loss", "denoising_loss"}
    assert float(loss) == pytest.approx(float(logged["generative_loss"] + logged["denoising_loss"]), rel=1e-6)
    assert float(logged["generative_loss"]) == pytest.approx(float(logged_other["generative_loss"]), rel=1e-6)
    assert float(logged["denoising_loss"]) != pytest.approx(float(logged_other["denoising_loss"]), rel=1e-3)
    only_gen = PretrainTask(denoising_weight=0.0)
    only_gen.make_builder(module.tokenizer, 100, 96, 96)
    assert set(only_gen.loss(module.net, batch, 0.0)[1]) == {"generative_loss"}
    # generation at validation / test reads the frames alone as well
    out = module.decode_batch(batch, num_beams=1, max_new_tokens=8)
    assert [(o["task"], o["duration"]) for o in out] == [("pretrain", 30.0)] * 2
    assert all(isinstance(o["events"], list) and all(0 <= s <= e <= 30.0 for s, e, _ in o["events"]) for o in out)


def test_bad_rows_and_options():
    with pytest.raises(ConfigError, match="not both 0"):
        PretrainTask(generative_weight=0, denoising_weight=0)
    with pytest.raises(ConfigError, match="noise_density"):
        PretrainTask(noise_density=1.5)
    task = PretrainTask()
    report = DataReport(FailureLog("t"))
    entries = task.read_entries([{"vid": "a", "duration": 10}, {"vid": "b", "duration": "x"}], "p.jsonl", None,
                                report)
    assert [e.vid for e in entries] == ["a"] and "bad duration" in report.failures.as_rows()[0]["reason"]
    with pytest.raises(BadInputError, match="listed twice"):
        task.read_entries([{"vid": "a", "duration": 10}] * 2, "p.jsonl", None, report)


# ---------------------------------------------------------------------- init_from
def test_init_from_copies_every_matching_tensor_and_reports_the_rest(train_cfg, tiny_t5, tmp_path):
    from videolang.model.module import Vid2SeqModule
    from videolang.run import run_stage

    cfg = train_cfg("task=pretrain", "model.max_output_tokens=64", "trainer.max_epochs=1", "model.time_token_norm=true",
                    "+trainer.limit_train_batches=2", "+trainer.limit_val_batches=1", "stage.test_after_fit=false",
                    "model.generation.num_beams=1", "trainer.log_every_n_steps=1")
    assert run_stage(cfg) == 0
    pre = Path(cfg.paths.output_dir)
    ckpt = pre / "checkpoints" / "last.ckpt"
    source = torch.load(ckpt, map_location="cpu", weights_only=True)["state_dict"]
    logged = pd.read_csv(next((pre / "csv").rglob("metrics.csv")))
    for term in ("train/generative_loss", "train/denoising_loss"):  # both objectives trained, each a real loss
        values = logged[term].dropna()
        assert len(values) == 2 and np.isfinite(values).all() and (values > 0).all(), (term, values)

    # a chapter model from it: every tensor arrives when fitting starts (before any step)
    fine = Vid2SeqModule(backbone=str(tiny_t5), visual_dim=16, task="chapter_generation", max_input_tokens=128,
                         max_output_tokens=48, visual_layers=2, visual_heads=4, init_from=str(ckpt))
    before = {k: v.clone() for k, v in fine.state_dict().items()}
    fine.setup("fit")
    after = fine.state_dict()
    assert fine.init_report["loaded"] == len(source) and not fine.init_report["skipped"]
    assert all(torch.equal(after[k], source[k]) for k in source)
    assert any(not torch.equal(before[k], source[k]) for k in source)
    # through stage=train: the summary says what arrived
    cfg = train_cfg("debug=fdr", f"model.init_from={ckpt}")
    assert run_stage(cfg) == 0
    summary = json.loads((Path(cfg.paths.output_dir) / "summary.json").read_text())
    assert summary["init_from"]["loaded"] == len(source) and summary["init_from"]["checkpoint"] == str(ckpt)
    # a wider visual input: those tensors are skipped and listed, the rest loads
    wide = Vid2SeqModule(backbone=str(tiny_t5), visual_dim=20, task="chapter_generation", visual_layers=2,
                         visual_heads=4, init_from=str(ckpt))
    wide.setup("fit")
    assert wide.init_report["skipped"] and wide.init_report["loaded"] == len(source) - len(wide.init_report["skipped"])
    # not a checkpoint / another vocabulary: a named error
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"nope")
    with pytest.raises(BadInputError, match="junk.ckpt"):
        Vid2SeqModule(backbone=str(tiny_t5), visual_dim=16, task="chapter_generation",
                      init_from=str(junk)).setup("fit")
    with pytest.raises(BadInputError, match="tokenizer differs"):
        Vid2SeqModule(backbone=str(tiny_t5), visual_dim=16, task="chapter_generation", num_time_tokens=50,
                      init_from=str(ckpt)).setup("fit")


def test_time_token_rows_are_rescaled_after_each_step(tiny_t5):
    from videolang.model.module import Vid2SeqModule, rescale_time_rows

    m = Vid2SeqModule(backbone=str(tiny_t5), visual_dim=VDIM, task="pretrain", time_token_norm=True)
    emb = m.net.t5.get_input_embeddings().weight
    ids = m.builder.time_ids
    ordinary = torch.ones(len(m.tokenizer), dtype=torch.bool)
    ordinary[ids] = False
    with torch.no_grad():
        emb[ids] *= 0.1  # the added rows start at the vocabulary's scale (init_added_rows): drift them off it
    ratio = emb[ids].norm(dim=1).mean() / emb[: len(m.tokenizer)][ordinary].norm(dim=1).mean()
    assert not 0.5 < float(ratio) < 2
    m.optimizer_step(0, 0, torch.optim.SGD(m.parameters(), lr=0.0), lambda: None)  # a zero-lr step
    for weight in (emb, m.net.t5.get_output_embeddings().weight):
        mean_ordinary = weight[: len(m.tokenizer)][ordinary].norm(dim=1).mean()
        assert float(weight[ids].norm(dim=1).mean()) == pytest.approx(float(mean_ordinary), rel=1e-5)

    # without the option the same zero-lr step leaves every row as it was: the rescaling above is the option's
    plain = Vid2SeqModule(backbone=str(tiny_t5), visual_dim=VDIM, task="pretrain", time_token_norm=False)
    assert plain.builder.time_ids == ids
    with torch.no_grad():
        plain.net.t5.get_input_embeddings().weight[ids] *= 0.1  # off the vocabulary's scale, as above
    weights = {id(w): w for w in (plain.net.t5.get_input_embeddings().weight,
                                  plain.net.t5.get_output_embeddings().weight)}.values()  # once if tied
    before = [w.detach().clone() for w in weights]
    plain.optimizer_step(0, 0, torch.optim.SGD(plain.parameters(), lr=0.0), lambda: None)
    assert all(torch.equal(w, b) for w, b in zip(weights, before, strict=True))
    # rescale_time_rows itself: each weight's time rows multiplied by one positive factor (their directions and
    # relative norms kept) to the ordinary rows' mean norm; every other row untouched
    rescale_time_rows(plain.net.t5, ids, len(plain.tokenizer))
    n = len(plain.tokenizer)
    for w, b in zip(weights, before, strict=True):
        assert torch.equal(w[:n][ordinary], b[:n][ordinary]) and torch.equal(w[n:], b[n:])
        factor = w[ids].norm(dim=1) / b[ids].norm(dim=1)
        assert not 0.5 < float(factor[0]) < 2  # the rows did change, by the ratio measured above
        torch.testing.assert_close(factor, factor[:1].expand_as(factor))
        torch.testing.assert_close(w[ids], b[ids] * factor[0])
        assert float(w[ids].norm(dim=1).mean()) == pytest.approx(float(b[:n][ordinary].norm(dim=1).mean()), rel=1e-5)
