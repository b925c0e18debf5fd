"""Multiple-choice questions about a sample video, in TVQA's fields, and its narration as subtitles.

Questions follow from the plan alone (their own random stream, seeded by the video id,
which already names the seed and the index), so they cost no rendering. Three categories,
so a model's accuracy per category says which modality it uses:

- ``speech``: what the narrator says in a chapter (its distractors are sentences of the
  same domain, first those of the same action or thing, which the picture cannot tell
  apart), or what the video is about (an intro names the subject);
- ``visual``: which object a chapter shows. Objects are only drawn; an object whose name
  the narration of its chapter says is never the answer, so speech alone cannot answer;
- ``both``: the narration locates the chapter ("while the narrator talks about mixing the
  dough", "right after ...") over the whole video, the picture answers.

Answer positions rotate over the corpus ((index * 3 + k) % 5), and all options of a
question are of one kind (sentences, subjects or object names), so neither the position
nor the longest option gives the answer away.
"""
from __future__ import annotations

import random
import re

from videolang.core.timefmt import format_webvtt_time
from videolang.sample import objects, topics
from videolang.sample.plan import ChapterPlan, VideoPlan

NUM_ANSWERS = 5
MAX_QUESTIONS = 8
CATEGORIES = ("speech", "visual", "both")
Q_SAID = "Which of these does the narrator say in this part?"
Q_SUBJECT = "What is this video about?"
Q_OBJECT = "Which object can be seen in this part?"
Q_WHILE = "Which object is shown while the narrator talks about {topic}?"
Q_AFTER = "Which object is shown right after the part about {topic}?"
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def display_name(cls: str) -> str:
    return cls.replace("_", " ")


def mentions(text: str, cls: str) -> bool:
    """Whether `text` names the object class (singular or plural, whole words)."""
    return re.search(rf"\b{re.escape(display_name(cls))}(s|es)?\b", text, re.IGNORECASE) is not None


def sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(text.strip()) if s]


def _domain(plan: VideoPlan) -> topics.Domain:
    return next(d for d in topics.DOMAINS if d.name == plan.domain)


def _topic_words(chapter: ChapterPlan) -> str:
    return f"{chapter.action.lower()} {chapter.thing}"


def _ts(start: float, end: float) -> str:
    return f"{float(start)}-{float(end)}"


def _pick(rng: random.Random, tiers: list[list[str]], exclude: set[str], k: int) -> list[str] | None:
    """k distinct options, taken from the tiers in order (each shuffled); None when too few."""
    chosen: list[str] = []
    for tier in tiers:
        options = sorted({o for o in tier if o not in exclude and o not in chosen})
        rng.shuffle(options)
        chosen += options[: k - len(chosen)]
        if len(chosen) == k:
            return chosen
    return None


def _details(domain: topics.Domain, chapter: ChapterPlan) -> tuple[list[str], list[str]]:
    """(the chapter's own action and thing detail sentences, every detail sentence of the domain)."""
    action = next(a for a in domain.actions if a.ing == chapter.action)
    thing = next(t for t in domain.things if t.phrase == chapter.thing)
    every = [s for part in (*domain.actions, *domain.things) for s in part.details]
    return [*action.details, *thing.details], every


def _said(rng: random.Random, domain: topics.Domain, chapter: ChapterPlan) -> tuple[str, list[str]] | None:
    own, every = _details(domain, chapter)
    said = [s for s in sentences(chapter.narration) if s in every]
    if not said:
        return None
    answer = rng.choice(said)
    unsaid = {s for s in every if s not in chapter.narration}
    wrong = _pick(rng, [[s for s in own if s in unsaid], sorted(unsaid)], set(), NUM_ANSWERS - 1)
    return (answer, wrong) if wrong else None


def _subject(rng: random.Random, plan: VideoPlan, domain: topics.Domain) -> tuple[str, list[str]] | None:
    others = [s for d in topics.DOMAINS if d is not domain for s in d.subjects]
    wrong = _pick(rng, [list(domain.subjects), others], {plan.subject}, NUM_ANSWERS - 1)
    return (plan.subject, wrong) if wrong else None


def _object(rng: random.Random, plan: VideoPlan, domain: topics.Domain, answers: set[str], shown: set[str],
            said: str, used: set[str], prefer: list[str] | None = None) -> tuple[str, list[str]] | None:
    """One of `answers` that `said` does not name, and four classes outside `shown` (the classes on
    screen in the asked-about part): from `prefer` first, then the video's other chapters, the
    domain, all classes."""
    candidates = sorted(n for n in answers if not mentions(said, n))
    if not candidates:
        return None
    fresh = [n for n in candidates if n not in used] or candidates  # vary the answers of one video
    answer = rng.choice(fresh)
    in_video = [o.name for c in plan.chapters for o in c.objects]
    tiers = [prefer or [], in_video, objects.domain_classes(domain), list(objects.CLASS_NAMES)]
    wrong = _pick(rng, tiers, shown, NUM_ANSWERS - 1)
    if wrong is None:
        return None
    used.add(answer)
    return display_name(answer), [display_name(w) for w in wrong]


def plan_questions(plan: VideoPlan) -> list[dict]:
    """Up to MAX_QUESTIONS TVQA-style rows for the video, mixing the three categories."""
    rng = random.Random(f"videolang-sample-qa:{plan.id}:{plan.index}")
    domain = _domain(plan)
    whole = _ts(0, plan.duration)
    used: set[str] = set()
    # Candidates per category: (question, ts, make) with `make` drawing answer and distractors.
    pools: dict[str, list] = {c: [] for c in CATEGORIES}
    chapters = plan.chapters
    for i, ch in enumerate(chapters):
        span = _ts(ch.start, ch.end)
        if ch.kind == "topic":
            pools["speech"].append((Q_SAID, span, lambda ch=ch: _said(rng, domain, ch)))
        elif plan.subject in ch.narration:
            pools["speech"].append((Q_SUBJECT, span, lambda: _subject(rng, plan, domain)))
        names = {o.name for o in ch.objects}
        if names:
            pools["visual"].append((Q_OBJECT, span, lambda ch=ch, names=names: _object(
                rng, plan, domain, names, names, ch.narration, used)))
        if ch.kind == "topic":
            pools["both"].append((Q_WHILE.format(topic=_topic_words(ch)), whole, lambda ch=ch, names=names: _object(
                rng, plan, domain, names, names, ch.narration, used)))
            if i + 1 < len(chapters):
                nxt = chapters[i + 1]
                later = {o.name for o in nxt.objects}
                pools["both"].append((Q_AFTER.format(topic=_topic_words(ch)), whole,
                                      lambda nxt=nxt, names=names, later=later: _object(
                                          rng, plan, domain, later - names, later, nxt.narration, used,
                                          prefer=sorted(names - later))))
    for pool in pools.values():
        rng.shuffle(pool)
    order = CATEGORIES[plan.index % 3:] + CATEGORIES[: plan.index % 3]
    rows: list[dict] = []
    while len(rows) < MAX_QUESTIONS and any(pools.values()):
        for category in order:
            while pools[category] and len(rows) < MAX_QUESTIONS:
                question, ts, make = pools[category].pop()
                made = make()
                if made is None:
                    continue
                answer, wrong = made
                k = len(rows)
                position = (plan.index * 3 + k) % NUM_ANSWERS
                options = wrong[:position] + [answer] + wrong[position:]
                row = {"qid": f"{plan.id}_q{k}", "vid_name": plan.id, "q": question}
                row.update({f"a{j}": option for j, option in enumerate(options)})
                row.update({"answer_idx": position, "ts": ts, "category": category})
                rows.append(row)
                break
    return rows


def subtitle_cues(plan: VideoPlan, spans: list[tuple[float, float]]) -> list[tuple[float, float, str]]:
    """(start, end, sentence) per narrated sentence: each chapter's measured narration span
    shared among its sentences in proportion to their word counts (espeak speaks evenly)."""
    cues = []
    for chapter, (first, last) in zip(plan.chapters, spans):
        parts = sentences(chapter.narration)
        words = [len(s.split()) for s in parts]
        total, done = sum(words), 0
        for sentence, n in zip(parts, words):
            start = first + (last - first) * done / total
            done += n
            cues.append((round(start, 3), round(first + (last - first) * done / total, 3), sentence))
    return cues


def narration_srt(plan: VideoPlan, spans: list[tuple[float, float]]) -> str:
    """The `<id>.srt` text: the narration as SubRip cues, one per sentence."""
    blocks = [f"{i}\n{format_webvtt_time(s, ',')} --> {format_webvtt_time(e, ',')}\n{text}\n"
              for i, (s, e, text) in enumerate(subtitle_cues(plan, spans), start=1)]
    return "\n".join(blocks)
