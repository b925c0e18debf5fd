"""The oracle: the reference tools' algorithms, transcribed loop for loop, driven by pycocoevalcap's scorers.

- `reference_eval_dvc`: VidChapters' `dvc_eval/eval_dvc.py` (densevid_eval) for one reference file.
- `reference_soda_c`: PDVC / VidChapters `SODA/soda.py` (soda_type "c", per-video averaging,
  recursive dynamic programme), with the argument swap (`swap=True`) or without it.
The only liberties: tokenisation happens once per tIoU instead of once per scorer (same
result), and the random string comes from the caller so both sides use the same one.
"""
from __future__ import annotations

import numpy as np
from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.rouge.rouge import Rouge
from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

from tests.evaluate.conftest import quiet


def remove_nonascii(text):
    return "".join([i if ord(i) < 128 else " " for i in text])


def dvc_iou(interval_1, interval_2):
    start_i, end_i = interval_1[0], interval_1[1]
    start, end = interval_2[0], interval_2[1]
    intersection = max(0, min(end, end_i) - max(start, start_i))
    union = min(max(end, end_i) - min(start, start_i), end - start + end_i - start_i)
    return float(intersection) / (union + 1e-8)


def soda_iou(interval_1, interval_2):
    (s_1, e_1), (s_2, e_2) = interval_1, interval_2
    intersection = max(0.0, min(e_1, e_2) - max(s_1, s_2))
    union = min(max(e_1, e_2) - min(s_1, s_2), e_1 - s_1 + e_2 - s_2)
    return intersection / (union + 1e-8)


def reference_eval_dvc(prediction, gt, meteor, random_string, tious=(0.3, 0.5, 0.7, 0.9),
                       distances=(1, 3, 5, 10, 30, 60), tokenizer=None):
    """prediction: {vid: [{"timestamp", "sentence"}]}; gt: {vid: {"timestamps", "sentences"}}.
    `tokenizer`: anything with pycocoevalcap's `tokenize` (default: a PTBTokenizer)."""
    tokenizer = tokenizer or PTBTokenizer()
    scorers = [(meteor, "METEOR"), (Cider(), "CIDEr"), (Rouge(), "Rouge-L"),
               (Bleu(4), ["Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4"])]
    gt_vid_ids = list(gt)
    scores = {}
    for tiou in tious:
        cur_res, cur_gts, vid2capid, unique_index = {}, {}, {}, 0
        for vid_id in gt_vid_ids:
            if vid_id not in prediction:
                continue
            vid2capid[vid_id] = []
            for pred in prediction[vid_id]:
                has_added = False
                for caption_idx, caption_timestamp in enumerate(gt[vid_id]["timestamps"]):
                    if dvc_iou(pred["timestamp"], caption_timestamp) >= tiou:
                        cur_res[unique_index] = [{"caption": remove_nonascii(pred["sentence"])}]
                        cur_gts[unique_index] = [{"caption": remove_nonascii(gt[vid_id]["sentences"][caption_idx])}]
                        vid2capid[vid_id].append(unique_index)
                        unique_index += 1
                        has_added = True
                if not has_added:
                    cur_res[unique_index] = [{"caption": remove_nonascii(pred["sentence"])}]
                    cur_gts[unique_index] = [{"caption": random_string(vid_id)}]
                    vid2capid[vid_id].append(unique_index)
                    unique_index += 1
        tokenize_res = tokenizer.tokenize(cur_res) if cur_res else {}
        tokenize_gts = tokenizer.tokenize(cur_gts) if cur_gts else {}
        res = {vid: {i: tokenize_res[i] for i in vid2capid[vid]} for vid in vid2capid}
        gts = {vid: {i: tokenize_gts[i] for i in vid2capid[vid]} for vid in vid2capid}
        for scorer, method in scorers:
            all_scores = {}
            for vid_id in gt_vid_ids:
                if vid_id not in prediction:
                    continue
                if len(res[vid_id]) == 0 or len(gts[vid_id]) == 0:
                    score = [0] * len(method) if isinstance(method, list) else 0
                else:
                    score, _ = quiet(scorer.compute_score, gts[vid_id], res[vid_id])
                all_scores[vid_id] = score
            if isinstance(method, list):
                for m, s in zip(method, np.mean(list(all_scores.values()), axis=0)):
                    scores.setdefault(m, []).append(s)
            else:
                scores.setdefault(method, []).append(np.mean(list(all_scores.values())))
    for name in ("Recall", "Precision", "F1"):
        scores[name] = []
    for thr, test in [(t, lambda p, r, t=t: dvc_iou(p, r) > t) for t in tious] + \
                     [(d, lambda p, r, d=d: abs(p[0] - r[0]) < d) for d in distances]:
        precision, recall = _detection(prediction, gt, gt_vid_ids, test)
        scores["Recall"].append(recall)
        scores["Precision"].append(precision)
        scores["F1"].append(2 * recall * precision / (recall + precision) if recall + precision else 0.)
    out = {k: np.array(v).mean() for k, v in scores.items() if k not in ("Recall", "Precision", "F1")}
    for i, x in enumerate(tious):
        for y in ("Recall", "Precision", "F1"):
            out[f"{y}@{x}"] = scores[y][i]
    for y in ("Recall", "Precision", "F1"):
        out[y] = np.array([scores[y][i] for i in range(len(tious))]).mean()
    for i, x in enumerate(distances):
        for y in ("Recall", "Precision", "F1"):
            out[f"{y}@{x}s"] = scores[y][len(tious) + i]
    return out


def _detection(prediction, gt, gt_vid_ids, hit):
    recall, precision = [], []
    for vid_id in gt_vid_ids:
        if vid_id not in prediction:
            continue
        refs = gt[vid_id]
        ref_set_covered, pred_set_covered = set(), set()
        for pred_i, pred in enumerate(prediction[vid_id]):
            for ref_i, ref_timestamp in enumerate(refs["timestamps"]):
                if hit(pred["timestamp"], ref_timestamp):
                    ref_set_covered.add(ref_i)
                    pred_set_covered.add(pred_i)
        precision.append(float(len(pred_set_covered)) / max(len(prediction[vid_id]), 1))
        recall.append(float(len(ref_set_covered)) / len(refs["timestamps"]))
    return sum(precision) / len(precision), sum(recall) / len(recall)


def chased_dp_assignment(scores):
    """SODA's recursive dynamic programme, verbatim (returns the best score)."""
    M, N = scores.shape
    dp = -np.ones((M, N))
    path = np.zeros((M, N))

    def transition(i, j):
        if dp[i, j] >= 0:
            return dp[i, j]
        elif i == 0 and j == 0:
            state = [-1, -1, scores[i, j]]
        elif i == 0:
            state = [-1, transition(i, j - 1), scores[i, j]]
        elif j == 0:
            state = [transition(i - 1, j), -1, scores[i, j]]
        else:
            state = [transition(i - 1, j), transition(i, j - 1), transition(i - 1, j - 1) + scores[i, j]]
        dp[i, j] = np.max(state)
        path[i, j] = np.argmax(state)
        return dp[i, j]

    return transition(M - 1, N - 1)


def reference_soda_c(prediction, gt, meteor, swap=True, tokenizer=None):
    """SODA_c (precision, recall, f1) averaged over the videos that have predictions."""
    tokenizer = tokenizer or PTBTokenizer()
    p_best, r_best, f_best = [], [], []
    for vid in [v for v in gt if v in prediction]:
        preds = sorted(prediction[vid], key=lambda x: x["timestamp"][0])
        golds = sorted(zip(gt[vid]["timestamps"], gt[vid]["sentences"]), key=lambda x: x[0][0])
        p_tok = tokenizer.tokenize({j: [{"caption": remove_nonascii(p["sentence"])}] for j, p in enumerate(preds)})
        g_tok = tokenizer.tokenize({j: [{"caption": remove_nonascii(s)}] for j, (_, s) in enumerate(golds)})
        iou = np.array([[soda_iou(p["timestamp"], t) for p in preds] for t, _ in golds])
        res = {index: p_tok[index] for index in range(len(preds))}
        rows = []
        for gi in range(len(golds)):
            gts = {index: g_tok[gi] for index in range(len(preds))}
            rows.append(meteor.compute_score(res, gts)[1] if swap else meteor.compute_score(gts, res)[1])
        scores = np.array(rows)
        max_score = chased_dp_assignment(iou * scores)
        n_g, n_p = iou.shape
        p, r = max_score / n_p, max_score / n_g
        p_best.append(p)
        r_best.append(r)
        f_best.append(2 * p * r / (p + r) if p + r > 0 else 0)
    return np.mean(p_best), np.mean(r_best), np.mean(f_best)
