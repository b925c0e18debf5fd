"""Training objectives: label-smoothed cross-entropy and T5 span corruption of the transcript."""
from __future__ import annotations

import torch
import torch.nn.functional as F

IGNORE = -100


def label_smoothed_ce(logits: torch.Tensor, labels: torch.Tensor, smoothing: float = 0.1) -> torch.Tensor:
    """Mean token cross-entropy with label smoothing; positions labelled -100 are ignored."""
    return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), labels.reshape(-1),
                           ignore_index=IGNORE, label_smoothing=float(smoothing))


def _random_partition(total: int, parts: int, gen: torch.Generator) -> list[int]:
    """Split `total` items into `parts` non-empty runs at random (T5's random segmentation)."""
    if parts <= 1:
        return [total]
    cuts = torch.randperm(total - 1, generator=gen)[: parts - 1].sort().values + 1
    bounds = [0, *cuts.tolist(), total]
    return [b - a for a, b in zip(bounds[:-1], bounds[1:])]


def span_corrupt(ids: list[int], sentinel_ids: list[int], gen: torch.Generator, noise_density: float = 0.25,
                 mean_span: float = 5.0) -> tuple[list[int], list[int]]:
    """T5 span corruption of a token list (no `</s>`): returns (corrupted input, target), both without `</s>`.

    About `noise_density` of the tokens, in spans of mean length `mean_span`, are
    replaced by one sentinel each in the input; the target lists each sentinel
    followed by the tokens it hides.
    """
    n = len(ids)
    num_noise = min(max(int(round(n * noise_density)), 1), n - 1) if n >= 2 else 0
    if num_noise == 0:
        return list(ids), []
    num_spans = max(1, min(int(round(num_noise / mean_span)), len(sentinel_ids), num_noise, n - num_noise))
    noise_lens = _random_partition(num_noise, num_spans, gen)
    keep_lens = _random_partition(n - num_noise, num_spans, gen)
    inp: list[int] = []
    tgt: list[int] = []
    pos = 0
    for k, (keep, noise) in enumerate(zip(keep_lens, noise_lens)):
        inp += ids[pos:pos + keep]
        pos += keep
        inp.append(sentinel_ids[k])
        tgt.append(sentinel_ids[k])
        tgt += ids[pos:pos + noise]
        pos += noise
    return inp, tgt



def sentinel_ids(tokenizer) -> list[int]:
    """T5's `<extra_id_K>` sentinel ids (K = 0, 1, ...), empty when the tokenizer has none."""
    vocab = tokenizer.get_vocab()
    out: list[int] = []
    while f"<extra_id_{len(out)}>" in vocab:
        out.append(vocab[f"<extra_id_{len(out)}>"])
    return out


def denoising_batch(input_ids: torch.Tensor, attention_mask: torch.Tensor, sentinels: list[int], pad_id: int,
                    eos_id: int, gen: torch.Generator, noise_density: float = 0.25,
                    mean_span: float = 5.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Span-corrupted copies of a batch's text inputs: (input_ids, attention_mask, labels) on its device.

    Each row's real tokens (padding and `</s>` removed) are corrupted with `span_corrupt`;
    inputs and targets get `</s>` back and are right-padded (labels with -100).
    """
    inputs, targets = [], []
    for ids, mask in zip(input_ids.tolist(), attention_mask.tolist()):
        ids = [i for i, m in zip(ids, mask) if m and i != eos_id]
        inp, tgt = span_corrupt(ids, sentinels, gen, noise_density, mean_span)
        inputs.append(inp + [eos_id])
        targets.append(tgt + [eos_id])
    li, lt = max(map(len, inputs)), max(map(len, targets))
    out_ids = torch.full((len(inputs), li), pad_id, dtype=torch.long)
    attention = torch.zeros_like(out_ids)
    labels = torch.full((len(inputs), lt), IGNORE, dtype=torch.long)
    for r, (i, t) in enumerate(zip(inputs, targets)):
        out_ids[r, :len(i)], attention[r, :len(i)] = torch.tensor(i), 1
        labels[r, :len(t)] = torch.tensor(t)
    dev = input_ids.device
    return out_ids.to(dev), attention.to(dev), labels.to(dev)
