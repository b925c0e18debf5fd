"""Deterministic plans: everything about a sample video that is decided before any media exists.

A plan (id, title, chapter times, titles, narration text, scene looks, objects and their boxes,
description) depends only on the generator parameters and the video's index,
so planning is cheap, a fingerprint of the parameters names a corpus, and video
i of a seed is the same whether 4 or 400 videos are made.
"""
from __future__ import annotations

import hashlib
import json
import math
import random
import re
import string
from dataclasses import asdict, dataclass, field

from videolang.core.errors import ConfigError
from videolang.sample import objects, topics
from videolang.sample.objects import PlacedObject
from videolang.sample.topics import Domain, Special

# Bump when rendering changes (plans are part of the fingerprint anyway): invalidates existing corpora.
# 2: objects with ground-truth boxes (metadata/<id>.boxes.jsonl, object_classes.json).
# 3: multiple-choice questions (metadata/<id>.qa.jsonl) and narration subtitles (metadata/<id>.srt).
GENERATOR_VERSION = 3
MIN_CHAPTER_SECONDS = 10  # YouTube's own minimum chapter length
MAX_CHAPTERS = 6
NARRATION_OFFSET = 0.5  # narration starts this long after its chapter starts
NARRATION_MARGIN = 1.0  # and ends at least this long before the chapter ends (estimated)
_ID_CHARS = string.ascii_letters + string.digits + "-_"
# How a chapter line is written in the description (see videolang.sample.metadata.chapter_line).
DESCRIPTION_STYLES = ("plain", "padded_dash", "title_first", "bracketed", "bullet", "title_dash")
CHANNELS = {"cooking": "Kitchen Corner", "gardening": "Green Thumb Diary", "workshop": "Weekend Workshop"}


@dataclass(frozen=True)
class SampleParams:
    """The parameters that define a corpus (and its fingerprint)."""

    num_videos: int = 12
    seed: int = 1234
    width: int = 320
    height: int = 240
    fps: int = 25
    min_duration: float = 20
    max_duration: float = 120
    with_awkward: bool = True
    # False: no narration names a word of any chapter title of its video (the titles are not spoken), so
    # grounding a title needs the picture; everything else about the corpus stays as with True
    titles_spoken: bool = True

    def validate(self) -> "SampleParams":
        problems = []
        if self.num_videos < 0:
            problems.append(f"num_videos must be >= 0, got {self.num_videos}")
        if self.width < 32 or self.height < 32 or self.width % 2 or self.height % 2:
            problems.append(f"width and height must be even and >= 32 (H.264 4:2:0), got {self.width}x{self.height}")
        if not 1 <= self.fps <= 120:
            problems.append(f"fps must be in 1..120, got {self.fps}")
        if self.min_duration < 2 * MIN_CHAPTER_SECONDS:
            problems.append(f"min_duration must be >= {2 * MIN_CHAPTER_SECONDS} s (two chapters of "
                            f"{MIN_CHAPTER_SECONDS} s), got {self.min_duration}")
        if self.max_duration < self.min_duration:
            problems.append(f"max_duration ({self.max_duration}) must be >= min_duration ({self.min_duration})")
        if problems:
            raise ConfigError("invalid sample corpus parameters: " + "; ".join(problems))
        return self



@dataclass
class ChapterPlan:
    start: int
    end: int
    title: str
    kind: str  # "intro", "topic" or "outro"
    narration: str
    background: str
    shape: str
    shape_colour: str
    motion: str
    action: str | None = None
    thing: str | None = None
    action_index: int | None = None  # position in the domain's action list (sets the ambient tone)
    objects: list[PlacedObject] = field(default_factory=list)  # drawn on top, still for the whole chapter

    @property
    def narration_start(self) -> float:
        return self.start + NARRATION_OFFSET


@dataclass
class VideoPlan:
    index: int
    id: str
    domain: str
    category: str
    subject: str
    title: str
    duration: int
    chapters: list[ChapterPlan]
    shape_size: int
    motion_period: float
    description_style: str
    width: int
    height: int
    fps: int
    upload_date: str = ""
    channel_id: str = ""
    channel: str = ""
    tags: list[str] = field(default_factory=list)


def params_record(params: SampleParams) -> dict:
    """The parameters as the fingerprint and the manifest record them: `titles_spoken` only when False, so a
    default corpus keeps the fingerprint it had before the option existed."""
    record = asdict(params)
    if record["titles_spoken"]:
        del record["titles_spoken"]
    return record


_TITLE_STOP_WORDS = frozenset({"the", "a", "an", "for", "of", "and", "to", "in"})


def title_words(titles: list[str]) -> set[str]:
    return {w for t in titles for w in re.findall(r"[a-z]+", t.lower()) if w not in _TITLE_STOP_WORDS}


def names_a_word(text: str, words: set[str]) -> bool:
    """Whether `text` says one of `words` or a form of it: a shared start of 4 letters (or the whole of a 3-letter
    word): "mix" / "mixing", "sand" / "sanding", "tomato" / "tomatoes", not "in" / "intro"."""
    for said in re.findall(r"[a-z]+", text.lower()):
        for word in words:
            short = min(len(said), len(word))
            if short >= 3 and said[:min(4, short)] == word[:min(4, short)]:
                return True
    return False


def _unspoken(rng: random.Random, chapter: ChapterPlan, domain: Domain, banned: set[str]) -> str:
    """A narration for `chapter` that names none of `banned`: topic chapters a neutral opening plus the detail
    sentences of their action and thing that name none; intros and outros their own sentences that name none."""
    budget = (chapter.end - chapter.start) - NARRATION_OFFSET - NARRATION_MARGIN
    if chapter.kind != "topic":
        kept = [s for s in re.split(r"(?<=[.!?])\s+", chapter.narration) if s and not names_a_word(s, banned)]
        return " ".join(kept) or (topics.NEUTRAL_INTRO if chapter.kind == "intro" else topics.NEUTRAL_OUTRO)
    action = next(a for a in domain.actions if a.ing == chapter.action)
    thing = next(t for t in domain.things if t.phrase == chapter.thing)
    extras = [s for s in (*action.details, *thing.details) if not names_a_word(s, banned)]
    return _narrate(rng, rng.choice(topics.NEUTRAL_OPENINGS), extras, budget)


def estimate_speech_seconds(text: str) -> float:
    """A generous estimate of espeak-ng's duration at 150 words per minute (measured about 0.42 s a word)."""
    words = len(text.split())
    sentences = max(1, sum(text.count(c) for c in ".!?"))
    return 0.45 * words + 0.25 * sentences


def _video_id(rng: random.Random) -> str:
    first = rng.choice(string.ascii_letters + string.digits)  # no leading "-": ids stay safe on command lines
    return first + "".join(rng.choice(_ID_CHARS) for _ in range(10))


def _split_duration(rng: random.Random, total: int, n: int) -> list[int]:
    """n whole-second lengths >= MIN_CHAPTER_SECONDS that add up to total, unevenly."""
    extra = total - n * MIN_CHAPTER_SECONDS
    weights = [rng.random() + 0.15 for _ in range(n)]
    shares = [int(extra * w / sum(weights)) for w in weights]
    for i in rng.sample(range(n), extra - sum(shares)):
        shares[i] += 1
    return [MIN_CHAPTER_SECONDS + s for s in shares]


def _choose_topics(rng: random.Random, domain: Domain, k: int, repeat_word: bool) -> list[tuple[int, int]]:
    """k distinct (action index, thing index) pairs in the order a video would show them.

    Actions and things differ between chapters as far as the domain allows, except
    that with `repeat_word` two chapters share an action ("Mixing the dough" /
    "Mixing the sauce").
    """
    shared = 1 if repeat_word and k >= 2 else 0
    actions = rng.sample(range(len(domain.actions)), min(k - shared, len(domain.actions)))
    actions += [rng.choice(actions) for _ in range(k - len(actions))]
    pairs: list[tuple[int, int]] = []
    for a in actions:  # prefer things not shown yet, so titles repeat words only now and then
        free = [t for t in range(len(domain.things)) if (a, t) not in pairs]
        unused = [t for t in free if all(t != seen for _, seen in pairs)]
        pairs.append((a, rng.choice(unused or free)))
    return sorted(pairs, key=lambda p: p[0])  # actions in their natural order (prepare before serve)


def _narrate(rng: random.Random, opening: str, extras: list[str], budget: float) -> str:
    """The opening sentence plus as many shuffled extra sentences as fit in `budget` seconds."""
    text = opening
    rng.shuffle(extras)
    for sentence in extras:
        if estimate_speech_seconds(f"{text} {sentence}") > budget or rng.random() < 0.25:
            break
        text = f"{text} {sentence}"
    return text


def _special_chapter(rng: random.Random, kind: str, subject: str, start: int, end: int) -> ChapterPlan:
    special: Special = rng.choice(topics.INTROS if kind == "intro" else topics.OUTROS)
    background, colour, shape, motion = topics.INTRO_LOOK if kind == "intro" else topics.OUTRO_LOOK
    return ChapterPlan(start, end, special.title, kind, special.narration.format(subject=subject),
                       background, shape, colour, motion)


def _furnish(params: SampleParams, index: int, domain: Domain, chapters: list[ChapterPlan]) -> None:
    """Choose and place each chapter's objects. Their own random stream keeps every other
    planned value (ids, titles, times, narration) what it was before objects existed."""
    rng = random.Random(f"videolang-sample-objects:{params.seed}:{index}")
    for chapter in chapters:
        if chapter.kind == "topic":
            action = next(a for a in domain.actions if a.ing == chapter.action)
            thing = next(t for t in domain.things if t.phrase == chapter.thing)
            names = objects.choose_topic_objects(rng, objects.topic_pool(action.objects, thing.objects))
        else:
            names = objects.choose_special_objects(rng, domain)
        chapter.objects = objects.place_objects(rng, names, params.width, params.height)


def plan_video(params: SampleParams, index: int) -> VideoPlan:
    """The complete plan of video `index` of the corpus defined by `params` (no media)."""
    rng = random.Random(f"videolang-sample:{params.seed}:{index}")
    video_id = _video_id(rng)
    domain = topics.DOMAINS[(index + params.seed) % len(topics.DOMAINS)]
    subject = rng.choice(domain.subjects)
    max_chapters = min(MAX_CHAPTERS, int(params.max_duration) // MIN_CHAPTER_SECONDS)
    n = rng.randint(2, max_chapters)
    intro = n >= 3 and rng.random() < 0.4
    outro = n - intro >= 3 and rng.random() < 0.3
    pairs = _choose_topics(rng, domain, n - intro - outro, repeat_word=rng.random() < 0.35)
    low = max(math.ceil(params.min_duration), n * MIN_CHAPTER_SECONDS)
    duration = rng.randint(low, max(low, int(params.max_duration)))
    lengths = _split_duration(rng, duration, n)
    starts = [sum(lengths[:i]) for i in range(n)]
    hue_jitter, value_jitter = rng.uniform(-5, 5), rng.uniform(-0.03, 0.03)

    chapters: list[ChapterPlan] = []
    kinds = ["intro"] * intro + ["topic"] * len(pairs) + ["outro"] * outro
    topic_iter = iter(pairs)
    for i, kind in enumerate(kinds):
        start, end = starts[i], starts[i] + lengths[i]
        if kind != "topic":
            chapters.append(_special_chapter(rng, kind, subject, start, end))
            continue
        a, t = next(topic_iter)
        action, thing = domain.actions[a], domain.things[t]
        words = {"ing": action.ing.lower(), "base": action.base, "thing": thing.phrase}
        extras = list(action.details) + list(thing.details)
        previous = chapters[-1] if chapters and chapters[-1].kind == "topic" else None
        if previous is not None:
            extras.append(topics.LOOK_BACK.format(prev=previous.thing))
        budget = (end - start) - NARRATION_OFFSET - NARRATION_MARGIN
        narration = _narrate(rng, rng.choice(topics.OPENINGS).format(**words), extras, budget)
        background, colour = topics.topic_colours(domain, a, thing, hue_jitter, value_jitter)
        chapters.append(ChapterPlan(start, end, topics.title_of(action, thing), "topic", narration, background,
                                    action.shape, colour, action.motion, action.ing, thing.phrase, a))
    _furnish(params, index, domain, chapters)
    if not params.titles_spoken:  # its own random stream: every other planned value stays the default corpus's
        unspoken = random.Random(f"videolang-sample-unspoken:{params.seed}:{index}")
        banned = title_words([c.title for c in chapters])
        for chapter in chapters:
            chapter.narration = _unspoken(unspoken, chapter, domain, banned)

    return VideoPlan(
        index=index, id=video_id, domain=domain.name, category=domain.category, subject=subject,
        title=rng.choice(domain.video_titles).format(subject=subject), duration=duration, chapters=chapters,
        shape_size=max(8, round(min(params.width, params.height) * rng.uniform(0.18, 0.26))) // 2 * 2,
        motion_period=round(rng.uniform(3.0, 6.0), 2),
        description_style=DESCRIPTION_STYLES[(index + params.seed) % len(DESCRIPTION_STYLES)],
        width=params.width, height=params.height, fps=params.fps,
        upload_date=f"20{rng.randint(19, 24)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}",
        channel=CHANNELS[domain.name],
        channel_id="UC" + hashlib.sha256(domain.name.encode()).hexdigest()[:22],
        tags=[domain.name, subject.split(" ", 1)[-1]]
        + sorted({c.thing.split(" ", 1)[-1] for c in chapters if c.thing}),
    )


def corpus_fingerprint(params: SampleParams, plans: list[VideoPlan]) -> str:
    """Names a corpus: the parameters, the generator version and every plan, so any change to
    the topic vocabulary or the planning code also invalidates corpora made before it."""
    payload = json.dumps({"version": GENERATOR_VERSION, "params": params_record(params),
                          "plans": [asdict(p) for p in plans]}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def plan_corpus(params: SampleParams) -> list[VideoPlan]:
    plans = [plan_video(params, i) for i in range(params.num_videos)]
    ids = [p.id for p in plans]
    if len(set(ids)) != len(ids):  # 64**11 ids: practically impossible, but never silently overwrite
        raise ConfigError(f"seed {params.seed} draws a repeated video id; choose another seed")
    return plans
