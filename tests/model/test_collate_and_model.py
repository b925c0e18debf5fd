"""Collate and masking, the visual encoder's padding mask, losses, span corruption, the ablations."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from videolang.backbone.losses import label_smoothed_ce, span_corrupt
from videolang.backbone.visual import VisualEncoder, subsample_frames, uniform_indices
from videolang.datamodule.vid2seq import Vid2SeqCollator
from videolang.training.samplers import EpochSeededSampler


def _item(n_in, n_out, n_frames, dim=6, key="v"):
    return {"key": key, "video_id": key, "duration": 10.0, "offset": 0.0, "span": (0.0, 10.0),
            "input_ids": list(range(3, 3 + n_in)), "labels": list(range(5, 5 + n_out)),
            "frames": np.ones((n_frames, dim), np.float32) * (n_frames + 1), "references": []}


def test_collate_pads_and_masks():
    batch = Vid2SeqCollator(pad_id=0)([_item(4, 2, 3, key="a"), _item(2, 5, 0, key="b"), _item(6, 1, 5, key="c")])
    assert batch["input_ids"].shape == (3, 6) and batch["labels"].shape == (3, 5)
    assert batch["frames"].shape == (3, 5, 6) and batch["frame_mask"].shape == (3, 5)
    assert batch["attention_mask"].sum(1).tolist() == [4, 2, 6]
    assert batch["input_ids"][1, 2:].eq(0).all()
    assert batch["labels"][0, 2:].eq(-100).all() and batch["labels"][2, 1:].eq(-100).all()
    assert batch["frame_mask"].sum(1).tolist() == [3, 0, 5]
    assert batch["frames"][0, 3:].eq(0).all() and batch["frames"][0, :3].eq(4).all()
    assert batch["meta"]["key"] == ["a", "b", "c"]


def test_uniform_subsampling():
    assert uniform_indices(5, 100).tolist() == [0, 1, 2, 3, 4]
    idx = uniform_indices(1000, 100)
    assert len(idx) == 100 and len(set(idx.tolist())) == 100 and idx[0] == 0 and idx[-1] == 999
    frames, ts = subsample_frames(np.arange(250, dtype=np.float32)[:, None], 100, np.arange(250.0))
    assert frames.shape == (100, 1) and np.all(np.diff(ts) > 0)
    assert uniform_indices(0, 10).tolist() == []


def test_padded_frames_do_not_change_the_real_frames_output():
    torch.manual_seed(0)
    enc = VisualEncoder(6, 8, num_layers=2, num_heads=2, max_frames=10, dropout=0.0).eval()
    frames = torch.randn(1, 4, 6)
    alone = enc(frames, torch.ones(1, 4))
    padded = torch.cat([frames, 100 * torch.randn(1, 6, 6)], dim=1)
    mask = torch.tensor([[1] * 4 + [0] * 6])
    out = enc(padded, mask)
    assert torch.allclose(out[:, :4], alone, atol=1e-5)
    assert out[:, 4:].abs().max() == 0
    # a video with no frame at all gives zeros, not NaNs
    assert torch.isfinite(enc(torch.zeros(1, 3, 6), torch.zeros(1, 3))).all()


def test_label_smoothed_ce_ignores_padding():
    logits = torch.randn(2, 3, 11)
    labels = torch.tensor([[1, 2, -100], [3, -100, -100]])
    plain = torch.nn.functional.cross_entropy(logits.reshape(-1, 11), labels.reshape(-1), ignore_index=-100)
    assert torch.allclose(label_smoothed_ce(logits, labels, 0.0), plain)
    assert label_smoothed_ce(logits, labels, 0.1) != plain


def test_span_corruption_hides_and_restores_the_tokens():
    sentinels = list(range(1000, 1100))
    ids = list(range(40))
    inp, tgt = span_corrupt(ids, sentinels, torch.Generator().manual_seed(0), noise_density=0.25, mean_span=3)
    hidden = [t for t in tgt if t < 1000]
    assert len(hidden) == 10
    # put the spans back where the sentinels are: the original sequence
    spans, cur = {}, None
    for t in tgt:
        if t >= 1000:
            cur = t
            spans[cur] = []
        else:
            spans[cur].append(t)
    rebuilt = [x for t in inp for x in (spans[t] if t >= 1000 else [t])]
    assert rebuilt == ids
    assert span_corrupt([5], sentinels, torch.Generator()) == ([5], [])


def test_epoch_seeded_sampler_is_deterministic_per_epoch():
    s = EpochSeededSampler(20, seed=3)
    s.set_epoch(0)
    first = list(s)
    s.set_epoch(1)
    second = list(s)
    s.set_epoch(0)
    assert list(s) == first and first != second and sorted(first) == list(range(20))
    assert list(EpochSeededSampler(5, shuffle=False)) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("use_speech, use_video", [(True, True), (False, True), (True, False)])
def test_ablations_train_and_generate(tiny_t5, use_speech, use_video):
    from videolang.model.module import Vid2SeqModule

    m = Vid2SeqModule(backbone=str(tiny_t5), visual_dim=6, visual_layers=1, visual_heads=2, use_speech=use_speech,
                      use_video=use_video, max_input_tokens=64, max_output_tokens=16, generation={"num_beams": 2})
    assert (m.net.visual is None) == (not use_video)
    batch = Vid2SeqCollator(m.builder.pad_id)([_item(4, 3, 3, key="a"), _item(2, 5, 0, key="b")])
    batch["meta"]["references"] = [[], []]
    loss = label_smoothed_ce(m.net(batch), batch["labels"])
    loss.backward()
    assert torch.isfinite(loss)
    out = m.eval().decode_batch(batch, max_new_tokens=6)
    assert [o["key"] for o in out] == ["a", "b"] and all("events" in o for o in out)


def test_frame_deltas_mark_scene_changes_and_ignore_padding():
    import torch

    from videolang.backbone.visual import VisualEncoder, frame_deltas

    frames = torch.tensor([[[1.0, 0.0], [1.0, 0.0], [0.0, 2.0], [0.0, 0.0]]])  # a change at 2, then padding
    keep = torch.tensor([[True, True, True, False]])
    assert frame_deltas(frames, keep).tolist() == [[[0.0, 0.0], [0.0, 0.0], [-1.0, 2.0], [0.0, 0.0]]]
    enc = VisualEncoder(2, 8, num_layers=1, num_heads=2, max_frames=4, frame_deltas=True)
    assert enc.proj.in_features == 4
    out = enc(frames, keep.long())
    assert out.shape == (1, 4, 8) and torch.all(out[0, 3] == 0)


def test_added_token_rows_are_distinct_at_the_vocabulary_scale(tiny_t5):
    """The time tokens added to the backbone's vocabulary start as distinct rows at the words' norm
    (transformers' mean_resizing makes them all one vector near zero: grounding then ignores its query)."""
    from videolang.model.module import Vid2SeqModule

    torch.manual_seed(0)
    m = Vid2SeqModule(backbone=str(tiny_t5), visual_dim=6, visual_layers=1, visual_heads=2, num_time_tokens=20)
    weight = m.net.t5.get_input_embeddings().weight.detach()
    time_rows = weight[torch.as_tensor(m.builder.time_ids)]
    words = weight[: min(m.builder.time_ids)].norm(dim=1).mean()
    assert 0.7 < float(time_rows.norm(dim=1).mean() / words) < 1.4
    gaps = torch.cdist(time_rows, time_rows) + torch.eye(len(time_rows)) * 1e9
    assert float(gaps.min()) > 0.3 * float(words)
    assert m.net.t5.get_output_embeddings().weight.data_ptr() == weight.data_ptr()  # still tied
