"""Objects in the sample videos: vocabulary, topic-dependent co-occurrence, layout, box files, and
boxes that match the decoded pictures."""
from __future__ import annotations

import itertools
import json
from collections import Counter, defaultdict

import av
import numpy as np
import pytest

from tests.fixtures.sample import SAMPLE_FIXTURE_PARAMS
from tests.sample.media import hex_rgb
from videolang.core.io import read_jsonl
from videolang.sample.corpus import OBJECT_CLASSES_FILE
from videolang.sample.objects import (CLASS_NAMES, CLASSES, MAX_OBJECTS, MIN_OBJECTS, OBJECT_CLASSES, PlacedObject,
                                      box_rows, draw_rects, topic_pool)
from videolang.sample.plan import SampleParams, plan_corpus
from videolang.sample.topics import DOMAINS

WIDTH, HEIGHT = SAMPLE_FIXTURE_PARAMS["width"], SAMPLE_FIXTURE_PARAMS["height"]


def iou(a, b) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


def pools() -> dict[tuple[str, str], dict[str, float]]:
    """{(action, thing): merged pool} for every topic of every domain."""
    return {(a.ing, t.phrase): topic_pool(a.objects, t.objects) for d in DOMAINS for a in d.actions for t in d.things}


# --- the vocabulary and the topic pools (no media) ----------------------------------------------

def test_vocabulary_is_small_distinct_and_covers_every_pool():
    assert 12 <= len(CLASS_NAMES) <= 20 and len(set(CLASS_NAMES)) == len(CLASS_NAMES)
    for a, b in itertools.combinations(OBJECT_CLASSES, 2):
        assert np.abs(hex_rgb(a.colour) - hex_rgb(b.colour)).sum() >= 80, (a.name, b.name)
    for cls in OBJECT_CLASSES:
        w, h = cls.size
        assert 28 <= min(w, h) and max(w, h) <= 70, cls.name  # at 320x240: visible after scaling to 224
        accent_area = sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1, _ in cls.accents)
        assert all(0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1 for x0, y0, x1, y1, _ in cls.accents)
        assert accent_area < 0.4, f"{cls.name}: the body colour must dominate its box"
    used = {name for pool in pools().values() for name in pool}
    assert used == set(CLASS_NAMES), "every class belongs to some topic, every pooled name is a class"
    assert all(len(pool) >= MIN_OBJECTS for pool in pools().values())


def test_cooccurrence_depends_on_the_topic():
    plans = plan_corpus(SampleParams(num_videos=300, seed=5))
    by_topic: dict[tuple[str, str], list[list[str]]] = defaultdict(list)
    distractors = total = 0
    for plan in plans:
        for c in plan.chapters:
            names = [o.name for o in c.objects]
            assert len(set(names)) == len(names)
            if c.kind != "topic":
                assert len(names) <= 1
                continue
            pool = pools()[(c.action, c.thing)]
            outside = [n for n in names if n not in pool]
            assert MIN_OBJECTS <= len(names) <= MAX_OBJECTS and len(outside) <= 1, (c.title, names)
            assert len(names) - len(outside) >= MIN_OBJECTS, "at least two objects come from the topic's pool"
            distractors += len(outside)
            total += 1
            by_topic[(c.action, c.thing)].append(names)
    assert 0.05 * total < distractors < 0.35 * total
    for topic, shown in by_topic.items():
        seen = Counter(n for names in shown for n in names)
        top = max(pools()[topic], key=pools()[topic].get)
        if len(shown) >= 10:  # the pool's heaviest class is in many of the topic's chapters (20 classes in all)
            assert seen[top] >= 0.45 * len(shown), (topic, seen)
    # the same topic always gives objects from its own pool: chopping-board scenes are not garden scenes
    prep = Counter(n for names in by_topic[("Preparing", "the salad")] for n in names)
    water = Counter(n for names in by_topic[("Watering", "the roses")] for n in names)
    assert prep["knife"] > 0 and water["watering_can"] > 0
    assert water["knife"] <= 0.35 * sum(water.values()) and prep["watering_can"] <= 0.35 * sum(prep.values())


@pytest.mark.parametrize("params", [SampleParams(num_videos=150, seed=5), SampleParams(num_videos=60, seed=2, width=96,
                                    height=64), SampleParams(num_videos=60, seed=3, width=64, height=48)],
                         ids=["320x240", "96x64", "64x48"])
def test_boxes_are_inside_the_frame_even_and_never_overlap(params):
    for plan in plan_corpus(params):
        for c in plan.chapters:
            boxes = [o.box for o in c.objects]
            for x1, y1, x2, y2 in boxes:
                assert 0 <= x1 < x2 <= params.width and 0 <= y1 < y2 <= params.height
                assert all(v % 2 == 0 for v in (x1, y1, x2, y2)), "even: 4:2:0 chroma holds the same box"
            for a, b in itertools.combinations(boxes, 2):
                assert iou(a, b) == 0.0  # never overlapping (the contract only asks IoU < 0.3)


def test_box_rows_follow_the_chapters_second_by_second():
    plan = plan_corpus(SampleParams(num_videos=1, seed=11))[0]
    rows = box_rows(plan.duration, plan.chapters)
    assert [r["time"] for r in rows] == list(np.arange(0, plan.duration, 1.0))
    for c in plan.chapters:
        for r in rows[c.start:c.end]:
            assert r["labels"] == [o.name for o in c.objects] and r["boxes"] == [o.box for o in c.objects]


# --- the fixture corpus -------------------------------------------------------------------------------

def test_class_vocabulary_and_box_files_are_valid(sample_corpus, sample_manifest):
    classes = json.loads((sample_corpus / OBJECT_CLASSES_FILE).read_text(encoding="utf-8"))
    assert classes == list(CLASS_NAMES) == sample_manifest["object_classes"]
    assert OBJECT_CLASSES_FILE in sample_manifest["files"]
    for video in sample_manifest["videos"]:
        assert video["files"]["boxes"] == f"metadata/{video['id']}.boxes.jsonl"
        rows = read_jsonl(sample_corpus / video["files"]["boxes"])
        assert [r["time"] for r in rows] == [float(t) for t in range(video["duration"])]
        for row in rows:
            assert set(row) == {"time", "boxes", "labels"} and isinstance(row["time"], float)
            assert len(row["boxes"]) == len(row["labels"]) and set(row["labels"]) <= set(classes)
            for box in row["boxes"]:
                assert len(box) == 4 and all(isinstance(v, float) for v in box)
                assert 0 <= box[0] < box[2] <= WIDTH and 0 <= box[1] < box[3] <= HEIGHT
            for a, b in itertools.combinations(row["boxes"], 2):
                assert iou(a, b) < 0.3
        for c in video["chapters"]:
            for row in rows[c["start"]:c["end"]]:
                assert row["labels"] == c["objects"], (video["id"], c["title"])
            if c["kind"] == "topic":
                assert MIN_OBJECTS <= len(c["objects"]) <= MAX_OBJECTS
            else:  # intro and outro frames: fewer than two objects (a pairwise task skips them)
                assert len(c["objects"]) < 2


def decode_at(path, times: list[float]) -> dict[float, np.ndarray]:
    """RGB frames on screen at the given times (the last frame starting at or before each)."""
    out, pending = {}, sorted(times)
    with av.open(str(path)) as container:
        previous = None
        for frame in container.decode(video=0):
            while pending and frame.time > pending[0] + 1e-6:
                out[pending.pop(0)] = previous.to_ndarray(format="rgb24").astype(np.float64)
            if not pending:
                break
            previous = frame
        for t in pending:
            out[t] = previous.to_ndarray(format="rgb24").astype(np.float64)
    return out


def test_boxes_match_the_decoded_pictures(sample_corpus, sample_manifest):
    """Inside every ground-truth box the decoded frame shows that class's picture (body colour and
    accents where planned); just outside it, the body colour stops."""
    checked = Counter()
    for video in sample_manifest["videos"]:
        rows = read_jsonl(sample_corpus / video["files"]["boxes"])
        times = [float(c["start"] + 1) for c in video["chapters"]] + [float(video["chapters"][-1]["end"] - 1)]
        frames = decode_at(sample_corpus / video["files"]["video"], times)
        backgrounds = {float(t): c["scene"]["background"]
                       for c in video["chapters"] for t in range(c["start"], c["end"])}
        for t, frame in frames.items():
            row = rows[int(t)]
            for box, label in zip(row["boxes"], row["labels"]):
                x1, y1, x2, y2 = (int(v) for v in box)
                expected = np.zeros((y2 - y1, x2 - x1, 3))
                for x, y, w, h, colour in draw_rects(PlacedObject(label, x1, y1, x2, y2)):
                    expected[y - y1:y - y1 + h, x - x1:x - x1 + w] = hex_rgb(colour)
                inside = frame[y1:y2, x1:x2]
                body = hex_rgb(CLASSES[label].colour)
                assert np.abs(np.median(inside.reshape(-1, 3), axis=0) - body).max() <= 12, (video["id"], t, label)
                assert np.abs(inside - expected).mean() <= 10, (video["id"], t, label)
                if np.abs(hex_rgb(backgrounds[t]) - body).sum() > 90:
                    ring = np.concatenate([frame[max(y1 - 2, 0):y1, x1:x2].reshape(-1, 3),
                                           frame[y2:y2 + 2, x1:x2].reshape(-1, 3),
                                           frame[y1:y2, max(x1 - 2, 0):x1].reshape(-1, 3),
                                           frame[y1:y2, x2:x2 + 2].reshape(-1, 3)])
                    like_body = (np.abs(ring - body).max(axis=1) <= 24).mean() if len(ring) else 0.0
                    assert like_body < 0.5, (video["id"], t, label, "the box is tight")
                checked[label] += 1
    assert sum(checked.values()) >= 8 and len(checked) >= 5, checked
