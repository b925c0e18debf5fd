"""The sample corpus's questions and subtitles, from plans alone (no rendering)."""
from __future__ import annotations

import re
from collections import Counter

import pytest

from videolang.builder.questions import parse_ts, question_from_row
from videolang.builder.srt import parse_srt
from videolang.sample import topics
from videolang.sample.plan import SampleParams, plan_corpus
from videolang.sample.questions import (
    CATEGORIES,
    MAX_QUESTIONS,
    NUM_ANSWERS,
    Q_AFTER,
    Q_OBJECT,
    Q_SAID,
    Q_SUBJECT,
    Q_WHILE,
    display_name,
    mentions,
    narration_srt,
    plan_questions,
    sentences,
)

FIELDS = {"qid", "vid_name", "q", "answer_idx", "ts", "category", *(f"a{i}" for i in range(NUM_ANSWERS))}
DETAILS = {s for d in topics.DOMAINS for part in (*d.actions, *d.things) for s in part.details}


@pytest.fixture(scope="module")
def corpus():
    plans = plan_corpus(SampleParams(num_videos=100, seed=1234))
    return [(p, plan_questions(p)) for p in plans]


def _answers(row: dict) -> list[str]:
    return [row[f"a{i}"] for i in range(NUM_ANSWERS)]


def _chapter(plan, ts: str):
    start, end = parse_ts(ts)
    return next(c for c in plan.chapters if (c.start, c.end) == (start, end))


def _topic(plan, question: str, template: str):
    prefix, suffix = template.split("{topic}")
    words = question[len(prefix):-len(suffix)]
    return next(i for i, c in enumerate(plan.chapters)
                if c.kind == "topic" and f"{c.action.lower()} {c.thing}" == words)


def test_questions_are_deterministic_and_in_tvqa_fields(corpus):
    plans = plan_corpus(SampleParams(num_videos=10, seed=1234))
    assert [plan_questions(p) for p in plans] == [q for _, q in corpus[:10]]
    for plan, rows in corpus:
        assert 1 <= len(rows) <= MAX_QUESTIONS
        assert len({r["qid"] for r in rows}) == len(rows)
        for k, row in enumerate(rows):
            assert set(row) == FIELDS
            assert row["qid"] == f"{plan.id}_q{k}" and row["vid_name"] == plan.id
            assert row["category"] in CATEGORIES
            assert len(set(_answers(row))) == NUM_ANSWERS, row
            start, end = parse_ts(row["ts"])
            assert 0 <= start < end <= plan.duration
            parsed = question_from_row(row, "x")  # the builder reads them as it reads TVQA
            assert parsed["answers"] == _answers(row) and parsed["answer_idx"] == row["answer_idx"]


def test_answers_are_true_and_distractors_false(corpus):
    kinds = Counter()
    for plan, rows in corpus:
        for row in rows:
            answer = row[f"a{row['answer_idx']}"]
            wrong = [a for i, a in enumerate(_answers(row)) if i != row["answer_idx"]]
            q = row["q"]
            if q == Q_SAID:
                chapter = _chapter(plan, row["ts"])
                assert answer in sentences(chapter.narration) and answer in DETAILS
                assert all(w not in chapter.narration and w in DETAILS for w in wrong)
            elif q == Q_SUBJECT:
                assert answer == plan.subject and answer in _chapter(plan, row["ts"]).narration
            elif q == Q_OBJECT:
                chapter = _chapter(plan, row["ts"])
                shown = {display_name(o.name) for o in chapter.objects}
                assert answer in shown and not shown & set(wrong)
                assert not mentions(chapter.narration, answer), "speech alone must not answer a visual question"
            else:
                assert row["ts"] == f"0.0-{float(plan.duration)}"
                template = Q_WHILE if q.startswith(Q_WHILE.split("{")[0]) else Q_AFTER
                i = _topic(plan, q, template)
                chapter = plan.chapters[i] if template == Q_WHILE else plan.chapters[i + 1]
                shown = {display_name(o.name) for o in chapter.objects}
                assert answer in shown and not shown & set(wrong)
                if template == Q_AFTER:
                    assert answer not in {display_name(o.name) for o in plan.chapters[i].objects}
                q = template
            kinds[q] += 1
    assert all(kinds[q] > 20 for q in (Q_SAID, Q_OBJECT, Q_WHILE, Q_AFTER)) and kinds[Q_SUBJECT] > 5, kinds


def test_categories_positions_and_lengths_give_nothing_away(corpus):
    rows = [r for _, qs in corpus for r in qs]
    categories = Counter(r["category"] for r in rows)
    assert all(n > len(rows) / 5 for n in categories.values()), categories  # each category at least 20%
    positions = Counter(r["answer_idx"] for r in rows)
    assert all(abs(positions[i] - len(rows) / 5) <= 0.3 * len(rows) / 5 for i in range(NUM_ANSWERS)), positions
    longest = sum(max(range(NUM_ANSWERS), key=lambda i: len(_answers(r)[i])) == r["answer_idx"] for r in rows)
    assert longest / len(rows) < 0.3, "the longest answer is not a giveaway"


def test_narration_subtitles_follow_the_measured_spans():
    plan = plan_corpus(SampleParams(num_videos=3, seed=5))[2]
    spans = [(c.start + 0.5, c.start + 0.5 + 0.4 * len(c.narration.split())) for c in plan.chapters]
    cues = parse_srt(narration_srt(plan, spans))
    assert [c["text"] for c in cues] == [s for c in plan.chapters for s in sentences(c.narration)]
    assert re.search(r"^00:00:00,500 --> ", narration_srt(plan, spans), re.MULTILINE)
    k = 0
    for chapter, (first, last) in zip(plan.chapters, spans):
        mine = cues[k:k + len(sentences(chapter.narration))]
        k += len(mine)
        assert mine[0]["start"] == pytest.approx(first, abs=1e-3) and mine[-1]["end"] == pytest.approx(last, abs=1e-3)
        for a, b in zip(mine, mine[1:]):
            assert a["end"] == b["start"]
