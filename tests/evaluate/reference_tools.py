"""The oracle: the reference tools' algorithms, transcribed loop for loop, driven by pycocoevalcap's scorers.

- `reference_eval_dvc`: VidChapters' `dvc_eval/eval_dvc.py` (densevid_eval) for one reference file
  or several (`ANETcaptions` with a list of ground-truth files: caption pairs pooled over the files,
  precision and recall the best file of each video).
- `reference_soda_c`: PDVC / VidChapters `SODA/soda.py` (soda_type "c", per-video averaging,
  recursive dynamic programme), with the argument swap (`swap=True`) or without it;
  `reference_eval_soda`: their `eval_soda` (SODA per reference file, averaged over the files).
- Moment-DETR's `standalone_eval/eval.py` + `utils.py` (the VidChapters copy, whose `compute_mr_r1`
  also reports R@1 within N s): `compute_mr_ap`, `compute_average_precision_detection`,
  `compute_mr_r1`, `get_data_by_range`, `eval_moment_retrieval`, and the highlight part
  (`mk_gt_scores`, `compute_hl_hit1`, `compute_hl_ap`, `get_ap` with sklearn's
  `precision_recall_curve` transcribed, since sklearn is not a dependency).
The only liberties: tokenisation happens once per tIoU instead of once per scorer (same
result), the random string comes from the caller so both sides use the same one, the
Moment-DETR functions return the raw fractions (the tool prints `float(f"{100 * v:.2f}")`) and
run single-process (the tool's worker pool only changes the order of a mean).
"""
from __future__ import annotations

import copy
from collections import defaultdict

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
    """prediction: {vid: [{"timestamp", "sentence"}]}; gt: {vid: {"timestamps", "sentences"}} or a list of them
    (several ground-truth files, as ANETcaptions takes them). `tokenizer`: anything with pycocoevalcap's
    `tokenize` (default: a PTBTokenizer)."""
    tokenizer = tokenizer or PTBTokenizer()
    ground_truths = gt if isinstance(gt, list) else [gt]
    scorers = [(meteor, "METEOR"), (Cider(), "CIDEr"), (Rouge(), "Rouge-L"),
               (Bleu(4), ["Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4"])]
    gt_vid_ids = list(dict.fromkeys(v for g in ground_truths for v in g))  # the tool: list(set(...))
    scores = {}
    for tiou in tious:
        cur_res, cur_gts, vid2capid, unique_index = {}, {}, {}, 0
        for vid_id in gt_vid_ids:
            if vid_id not in prediction:
                continue
            vid2capid[vid_id] = []
            for pred in prediction[vid_id]:
                has_added = False
                for g in ground_truths:
                    if vid_id not in g:
                        continue
                    gt_captions = g[vid_id]
                    for caption_idx, caption_timestamp in enumerate(gt_captions["timestamps"]):
                        if dvc_iou(pred["timestamp"], caption_timestamp) >= tiou:
                            cur_res[unique_index] = [{"caption": remove_nonascii(pred["sentence"])}]
                            cur_gts[unique_index] = [{"caption": remove_nonascii(gt_captions["sentences"][caption_idx])}]
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
        precision, recall = _detection(prediction, ground_truths, gt_vid_ids, test)
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


def _detection(prediction, ground_truths, gt_vid_ids, hit):
    """`evaluate_detection` / `evaluate_navigation`: per video the best precision and the best recall
    over the ground-truth files that have it."""
    recall, precision = [], []
    for vid_id in gt_vid_ids:
        if vid_id not in prediction:
            continue
        best_recall = 0
        best_precision = 0
        for g in ground_truths:
            if vid_id not in g:
                continue
            refs = g[vid_id]
            ref_set_covered, pred_set_covered = set(), set()
            for pred_i, pred in enumerate(prediction[vid_id]):
                for ref_i, ref_timestamp in enumerate(refs["timestamps"]):
                    if hit(pred["timestamp"], ref_timestamp):
                        ref_set_covered.add(ref_i)
                        pred_set_covered.add(pred_i)
            new_precision = float(len(pred_set_covered)) / max(len(prediction[vid_id]), 1)
            best_precision = max(best_precision, new_precision)
            new_recall = float(len(ref_set_covered)) / len(refs["timestamps"])
            best_recall = max(best_recall, new_recall)
        recall.append(best_recall)
        precision.append(best_precision)
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


def reference_eval_soda(prediction, ref_list, meteor, swap=True, tokenizer=None):
    """VidChapters' / PDVC's `eval_soda(p, ref_list)`: SODA_c on each reference file, (p, r, f) averaged over files."""
    score_sum = [list(reference_soda_c(prediction, ref, meteor, swap, tokenizer)) for ref in ref_list]
    soda_avg = np.mean(score_sum, axis=0)
    return soda_avg  # [precision, recall, f1]; the tool reports soda_avg[-1] as soda_c


# -- Moment-DETR standalone_eval ------------------------------------------------------------------
def compute_temporal_iou_batch_paired(pred_windows, gt_windows):
    intersection = np.maximum(
        0, np.minimum(pred_windows[:, 1], gt_windows[:, 1]) - np.maximum(pred_windows[:, 0], gt_windows[:, 0]))
    union = np.maximum(pred_windows[:, 1], gt_windows[:, 1]) - np.minimum(pred_windows[:, 0], gt_windows[:, 0])
    return np.divide(intersection, union, out=np.zeros_like(intersection), where=union != 0)


def compute_temporal_iou_batch_cross(spans1, spans2):
    areas1 = spans1[:, 1] - spans1[:, 0]
    areas2 = spans2[:, 1] - spans2[:, 0]
    left = np.maximum(spans1[:, None, 0], spans2[None, :, 0])
    right = np.minimum(spans1[:, None, 1], spans2[None, :, 1])
    inter = np.clip(right - left, 0, None)
    union = areas1[:, None] + areas2[None, :] - inter
    iou = inter / union
    return iou, union


def interpolated_precision_recall(precision, recall):
    mprecision = np.hstack([[0], precision, [0]])
    mrecall = np.hstack([[0], recall, [1]])
    for i in range(len(mprecision) - 1)[::-1]:
        mprecision[i] = max(mprecision[i], mprecision[i + 1])
    idx = np.where(mrecall[1::] != mrecall[0:-1])[0] + 1
    ap = np.sum((mrecall[idx] - mrecall[idx - 1]) * mprecision[idx])
    return ap


def compute_average_precision_detection(ground_truth, prediction, tiou_thresholds=np.linspace(0.5, 0.95, 10)):
    num_thresholds = len(tiou_thresholds)
    num_gts = len(ground_truth)
    num_preds = len(prediction)
    ap = np.zeros(num_thresholds)
    if len(prediction) == 0:
        return ap
    num_positive = float(num_gts)
    lock_gt = np.ones((num_thresholds, num_gts)) * -1
    prediction.sort(key=lambda x: -x["score"])
    tp = np.zeros((num_thresholds, num_preds))
    fp = np.zeros((num_thresholds, num_preds))
    ground_truth_by_videoid = {}
    for i, item in enumerate(ground_truth):
        item["index"] = i
        ground_truth_by_videoid.setdefault(item["video-id"], []).append(item)
    for idx, pred in enumerate(prediction):
        if pred["video-id"] in ground_truth_by_videoid:
            gts = ground_truth_by_videoid[pred["video-id"]]
        else:
            fp[:, idx] = 1
            continue
        _pred = np.array([[pred["t-start"], pred["t-end"]], ])
        _gt = np.array([[gt["t-start"], gt["t-end"]] for gt in gts])
        tiou_arr = compute_temporal_iou_batch_cross(_pred, _gt)[0]
        tiou_arr = tiou_arr.reshape(-1)
        tiou_sorted_idx = tiou_arr.argsort()[::-1]
        for t_idx, tiou_threshold in enumerate(tiou_thresholds):
            for j_idx in tiou_sorted_idx:
                if tiou_arr[j_idx] < tiou_threshold:
                    fp[t_idx, idx] = 1
                    break
                if lock_gt[t_idx, gts[j_idx]["index"]] >= 0:
                    continue
                tp[t_idx, idx] = 1
                lock_gt[t_idx, gts[j_idx]["index"]] = idx
                break
            if fp[t_idx, idx] == 0 and tp[t_idx, idx] == 0:
                fp[t_idx, idx] = 1
    tp_cumsum = np.cumsum(tp, axis=1).astype(float)
    fp_cumsum = np.cumsum(fp, axis=1).astype(float)
    recall_cumsum = tp_cumsum / num_positive
    precision_cumsum = tp_cumsum / (tp_cumsum + fp_cumsum)
    for t_idx in range(len(tiou_thresholds)):
        ap[t_idx] = interpolated_precision_recall(precision_cumsum[t_idx, :], recall_cumsum[t_idx, :])
    return ap


def compute_mr_ap(submission, ground_truth, iou_thds=np.linspace(0.5, 0.95, 10), max_gt_windows=None,
                  max_pred_windows=10):
    """Raw fractions per threshold and "average" (the tool: float(f"{100 * v:.2f}"))."""
    iou_thds = [float(f"{e:.2f}") for e in iou_thds]
    pred_qid2data = defaultdict(list)
    for d in submission:
        pred_windows = d["pred_relevant_windows"][:max_pred_windows] \
            if max_pred_windows is not None else d["pred_relevant_windows"]
        qid = d["qid"]
        for w in pred_windows:
            pred_qid2data[qid].append({"video-id": d["qid"], "t-start": w[0], "t-end": w[1], "score": w[2]})
    gt_qid2data = defaultdict(list)
    for d in ground_truth:
        gt_windows = d["relevant_windows"][:max_gt_windows] \
            if max_gt_windows is not None else d["relevant_windows"]
        qid = d["qid"]
        for w in gt_windows:
            gt_qid2data[qid].append({"video-id": d["qid"], "t-start": w[0], "t-end": w[1]})
    qid2ap_list = {}
    data_triples = [[qid, gt_qid2data[qid], pred_qid2data[qid]] for qid in pred_qid2data]
    for qid, ground_truth_q, prediction_q in data_triples:
        qid2ap_list[qid] = compute_average_precision_detection(ground_truth_q, prediction_q, tiou_thresholds=iou_thds)
    ap_array = np.array(list(qid2ap_list.values()))
    ap_thds = ap_array.mean(0)
    iou_thd2ap = dict(zip([str(e) for e in iou_thds], ap_thds))  # an empty bucket: TypeError here
    iou_thd2ap["average"] = np.mean(ap_thds)
    return iou_thd2ap


def compute_mr_r1(submission, ground_truth, iou_thds=np.linspace(0.3, 0.95, 14), dists=(1, 3, 5, 10)):
    iou_thds = [float(f"{e:.2f}") for e in iou_thds]
    pred_qid2window = {d["qid"]: d["pred_relevant_windows"][0][:2] for d in submission}
    gt_qid2window = {}
    for d in ground_truth:
        cur_gt_windows = d["relevant_windows"]
        cur_qid = d["qid"]
        cur_max_iou_idx = 0
        if len(cur_gt_windows) > 0:
            cur_ious = compute_temporal_iou_batch_cross(
                np.array([pred_qid2window[cur_qid]]), np.array(d["relevant_windows"]))[0]
            cur_max_iou_idx = np.argmax(cur_ious)
        gt_qid2window[cur_qid] = cur_gt_windows[cur_max_iou_idx]
    qids = list(pred_qid2window.keys())
    pred_windows = np.array([pred_qid2window[k] for k in qids]).astype(float)
    gt_windows = np.array([gt_qid2window[k] for k in qids]).astype(float)
    pred_gt_iou = compute_temporal_iou_batch_paired(pred_windows, gt_windows)
    iou_thd2recall_at_one = {}
    for thd in iou_thds:
        iou_thd2recall_at_one[str(thd)] = np.mean(pred_gt_iou >= thd)
    for dist in dists:
        iou_thd2recall_at_one[str(dist) + "s"] = np.mean(np.abs(pred_windows[:, 0] - gt_windows[:, 0]) <= dist)
    return iou_thd2recall_at_one


def get_window_len(window):
    return window[1] - window[0]


def get_data_by_range(submission, ground_truth, len_range, full_range=(0, 150)):
    min_l, max_l = len_range
    if min_l == full_range[0] and max_l == full_range[1]:  # the tool: `if min_l == 0 and max_l == 150`
        return submission, ground_truth
    ground_truth_in_range = []
    gt_qids_in_range = set()
    for d in ground_truth:
        rel_windows_in_range = [w for w in d["relevant_windows"] if min_l < get_window_len(w) <= max_l]
        if len(rel_windows_in_range) > 0:
            d = copy.deepcopy(d)
            d["relevant_windows"] = rel_windows_in_range
            ground_truth_in_range.append(d)
            gt_qids_in_range.add(d["qid"])
    submission_in_range = []
    for d in submission:
        if d["qid"] in gt_qids_in_range:
            submission_in_range.append(copy.deepcopy(d))
    return submission_in_range, ground_truth_in_range


def eval_moment_retrieval(submission, ground_truth, length_ranges=((0, 10), (10, 30), (30, 150), (0, 150)),
                          range_names=("short", "middle", "long", "full"), full_range=(0, 150),
                          r1_thds=np.linspace(0.3, 0.95, 14), dists=(1, 3, 5, 10)):
    ret_metrics = {}
    for l_range, name in zip(length_ranges, range_names):
        _submission, _ground_truth = get_data_by_range(submission, ground_truth, l_range, full_range)
        iou_thd2average_precision = compute_mr_ap(_submission, _ground_truth)
        iou_thd2recall_at_one = compute_mr_r1(_submission, _ground_truth, r1_thds, dists)
        ret_metrics[name] = {"MR-mAP": iou_thd2average_precision, "MR-R1": iou_thd2recall_at_one}
    return ret_metrics


def _binary_clf_curve(y_true, y_score):
    """sklearn.metrics._ranking._binary_clf_curve (no sample weights, pos_label 1)."""
    y_true = y_true == 1
    desc_score_indices = np.argsort(y_score, kind="mergesort")[::-1]
    y_score = y_score[desc_score_indices]
    y_true = y_true[desc_score_indices]
    weight = 1.0
    distinct_value_indices = np.where(np.diff(y_score))[0]
    threshold_idxs = np.r_[distinct_value_indices, y_true.size - 1]
    tps = np.cumsum(y_true * weight, dtype=np.float64)[threshold_idxs]  # stable_cumsum
    fps = 1 + threshold_idxs - tps
    return fps, tps, y_score[threshold_idxs]


def precision_recall_curve(y_true, probas_pred):
    """sklearn.metrics.precision_recall_curve (>= 1.1: the whole curve, drop_intermediate=False)."""
    fps, tps, thresholds = _binary_clf_curve(np.asarray(y_true), np.asarray(probas_pred))
    ps = tps + fps
    precision = np.zeros_like(tps)
    np.divide(tps, ps, out=precision, where=(ps != 0))
    if tps[-1] == 0:
        recall = np.ones_like(tps)
    else:
        recall = tps / tps[-1]
    sl = slice(None, None, -1)
    return np.hstack((precision[sl], 1)), np.hstack((recall[sl], 0)), thresholds[sl]


def precision_recall_curve_old(y_true, probas_pred):
    """sklearn < 1.1: the curve stops where full recall is first reached."""
    fps, tps, thresholds = _binary_clf_curve(np.asarray(y_true), np.asarray(probas_pred))
    precision = tps / (tps + fps)
    precision[np.isnan(precision)] = 0
    recall = tps / tps[-1]
    last_ind = tps.searchsorted(tps[-1])
    sl = slice(last_ind, None, -1)
    return np.r_[precision[sl], 1], np.r_[recall[sl], 0], thresholds[sl]


def get_ap(y_true, y_predict, interpolate=True, point_11=False, curve=precision_recall_curve):
    assert len(y_true) == len(y_predict), "Prediction and ground truth need to be of the same length"
    if len(set(y_true)) == 1:
        if y_true[0] == 0:
            return 0
        else:
            return 1
    else:
        assert sorted(set(y_true)) == [0, 1], "Ground truth can only contain elements {0,1}"
    precision, recall, _ = curve(y_true, y_predict)
    recall = recall.astype(np.float32)
    if interpolate:
        for i in range(1, len(precision)):
            precision[i] = max(precision[i - 1], precision[i])
    if point_11:
        precision_11 = [precision[np.where(recall >= t)[0][-1]] for t in np.arange(0, 1.01, 0.1)]
        return np.mean(precision_11)
    else:
        indices = np.where(np.diff(recall))
        return np.mean(precision[indices])


def compute_hl_hit1(qid2preds, qid2gt_scores_binary):
    qid2max_scored_clip_idx = {k: np.argmax(v["pred_saliency_scores"]) for k, v in qid2preds.items()}
    hit_scores = np.zeros((len(qid2preds), 3))
    qids = list(qid2preds.keys())
    for idx, qid in enumerate(qids):
        pred_clip_idx = qid2max_scored_clip_idx[qid]
        gt_scores_binary = qid2gt_scores_binary[qid]
        if pred_clip_idx < len(gt_scores_binary):
            hit_scores[idx] = gt_scores_binary[pred_clip_idx]
    return np.mean(np.max(hit_scores, 1))


def compute_ap_from_tuple(input_tuple, curve=precision_recall_curve):
    idx, w_idx, y_true, y_predict = input_tuple
    if len(y_true) < len(y_predict):
        y_predict = y_predict[:len(y_true)]
    elif len(y_true) > len(y_predict):
        _y_predict = np.zeros(len(y_true))
        _y_predict[:len(y_predict)] = y_predict
        y_predict = _y_predict
    score = get_ap(y_true, y_predict, curve=curve)
    return idx, w_idx, score


def compute_hl_ap(qid2preds, qid2gt_scores_binary, curve=precision_recall_curve):
    qid2pred_scores = {k: v["pred_saliency_scores"] for k, v in qid2preds.items()}
    ap_scores = np.zeros((len(qid2preds), 3))
    qids = list(qid2preds.keys())
    input_tuples = []
    for idx, qid in enumerate(qids):
        for w_idx in range(3):
            y_true = qid2gt_scores_binary[qid][:, w_idx]
            y_predict = np.array(qid2pred_scores[qid])
            input_tuples.append((idx, w_idx, y_true, y_predict))
    for input_tuple in input_tuples:
        idx, w_idx, score = compute_ap_from_tuple(input_tuple, curve)
        ap_scores[idx, w_idx] = score
    return np.mean(ap_scores)


def mk_gt_scores(gt_data, clip_length=2):
    num_clips = int(gt_data["duration"] / clip_length)
    saliency_scores_full_video = np.zeros((num_clips, 3))
    relevant_clip_ids = np.array(gt_data["relevant_clip_ids"])
    saliency_scores_relevant_clips = np.array(gt_data["saliency_scores"])
    saliency_scores_full_video[relevant_clip_ids] = saliency_scores_relevant_clips
    return saliency_scores_full_video


def eval_highlight(submission, ground_truth, curve=precision_recall_curve):
    qid2preds = {d["qid"]: d for d in submission}
    qid2gt_scores_full_range = {d["qid"]: mk_gt_scores(d) for d in ground_truth}
    gt_saliency_score_min_list = [2, 3, 4]
    saliency_score_names = ["Fair", "Good", "VeryGood"]
    highlight_det_metrics = {}
    for gt_saliency_score_min, score_name in zip(gt_saliency_score_min_list, saliency_score_names):
        qid2gt_scores_binary = {
            k: (v >= gt_saliency_score_min).astype(float) for k, v in qid2gt_scores_full_range.items()}
        hit_at_one = compute_hl_hit1(qid2preds, qid2gt_scores_binary)
        mean_ap = compute_hl_ap(qid2preds, qid2gt_scores_binary, curve)
        highlight_det_metrics[f"HL-min-{score_name}"] = {"HL-mAP": mean_ap, "HL-Hit1": hit_at_one}
    return highlight_det_metrics
