"""Objects in the sample videos: a fixed class vocabulary, which classes a chapter shows, where,
and the per-second ground-truth boxes.

Every object is a filled, axis-aligned rectangle of its class's colour with one
or two accent rectangles inside it (a knife's dark handle, a bowl's white rim),
drawn with ffmpeg `drawbox` on top of the scene. So its bounding box is exactly
the rectangle that was drawn, to the pixel. All coordinates and sizes are even,
so the 4:2:0 chroma planes hold the same rectangle as the luma plane.

Which classes co-occur depends on the chapter's topic: the action and the thing
each bring a weighted pool (`topics.Action.objects`, `topics.Thing.objects`),
2-5 classes are drawn from the merged pool, and now and then one off-topic
distractor is added. Intro and outro chapters show 0 or 1 object. Objects stay
still within a chapter and never overlap (a gap separates them), so the boxes of
a chapter hold for every one of its frames.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

from videolang.sample.topics import Domain

REFERENCE_SIZE = (320, 240)  # object sizes below are in pixels at this frame size, scaled to the video
MIN_OBJECTS, MAX_OBJECTS = 2, 5  # per topic chapter
DISTRACTOR_PROBABILITY = 0.2  # a topic chapter also shows one class outside its pool
SPECIAL_OBJECT_PROBABILITY = 0.5  # an intro / outro shows one object of its domain
PLACEMENT_TRIES = 200


@dataclass(frozen=True)
class ObjectClass:
    """A class's look: body colour and size (at REFERENCE_SIZE) plus accents as box fractions (x0, y0, x1, y1)."""

    name: str
    colour: str
    size: tuple[int, int]  # (width, height)
    accents: tuple[tuple[float, float, float, float, str], ...] = ()


# The vocabulary; its order is the class index. Accents cover well under half of a box, so the
# body colour is what most of an object's pixels show.
OBJECT_CLASSES: tuple[ObjectClass, ...] = (
    ObjectClass("knife", "#c8ccd0", (70, 28), ((0.0, 0.0, 0.35, 1.0, "#3b2a1e"),)),
    ObjectClass("board", "#c07a3a", (70, 50), ((0.1, 0.25, 0.9, 0.35, "#8a5220"), (0.1, 0.65, 0.9, 0.75, "#8a5220"))),
    ObjectClass("onion", "#efe3b0", (40, 40), ((0.4, 0.0, 0.6, 0.2, "#5a9a3a"),)),
    ObjectClass("tomato", "#e02a1a", (36, 36), ((0.3, 0.0, 0.7, 0.18, "#2e8b2e"),)),
    ObjectClass("bowl", "#2f6fd0", (56, 34), ((0.0, 0.0, 1.0, 0.2, "#e8eef8"),)),
    ObjectClass("spoon", "#f2c200", (28, 64), ((0.1, 0.0, 0.9, 0.3, "#9a7a00"),)),
    ObjectClass("pot", "#4a5058", (56, 48), ((0.0, 0.0, 1.0, 0.16, "#15181c"), (0.0, 0.35, 0.1, 0.55, "#15181c"),
                                              (0.9, 0.35, 1.0, 0.55, "#15181c"))),
    ObjectClass("plate", "#fafafa", (60, 60), ((0.25, 0.25, 0.75, 0.75, "#c8d4e0"),)),
    ObjectClass("seedling", "#50d030", (32, 48), ((0.0, 0.72, 1.0, 1.0, "#6b4423"),)),
    ObjectClass("trowel", "#7f8fa0", (30, 62), ((0.25, 0.66, 0.75, 1.0, "#c0392b"),)),
    ObjectClass("watering_can", "#10a090", (58, 44), ((0.8, 0.0, 1.0, 0.3, "#0a5048"),
                                                      (0.2, 0.0, 0.5, 0.12, "#0a5048"))),
    ObjectClass("shears", "#f07010", (36, 60), ((0.2, 0.0, 0.8, 0.45, "#bdc3c7"),)),
    ObjectClass("basket", "#8a5a20", (62, 40), ((0.0, 0.3, 1.0, 0.4, "#4a2a08"), (0.0, 0.6, 1.0, 0.7, "#4a2a08"))),
    ObjectClass("hammer", "#7a2aa8", (50, 60), ((0.0, 0.0, 1.0, 0.3, "#303030"),)),
    ObjectClass("saw", "#d02090", (70, 36), ((0.0, 0.8, 1.0, 1.0, "#707880"), (0.0, 0.0, 0.2, 0.8, "#501030"))),
    ObjectClass("plank", "#e0b070", (70, 30), ((0.0, 0.4, 1.0, 0.55, "#b88848"),)),
    ObjectClass("drill", "#20c0f0", (48, 48), ((0.7, 0.2, 1.0, 0.45, "#303030"), (0.2, 0.5, 0.5, 1.0, "#105070"))),
    ObjectClass("paintbrush", "#202080", (28, 66), ((0.0, 0.0, 1.0, 0.3, "#f0f0f0"),)),
    ObjectClass("sandpaper", "#9a9a4a", (48, 48), ((0.2, 0.2, 0.4, 0.4, "#6a5a3a"), (0.6, 0.6, 0.8, 0.8, "#6a5a3a"))),
    ObjectClass("cloth", "#f080c0", (54, 44), ((0.0, 0.45, 1.0, 0.6, "#b04080"),)),
)
CLASS_NAMES: tuple[str, ...] = tuple(c.name for c in OBJECT_CLASSES)
CLASSES: dict[str, ObjectClass] = {c.name: c for c in OBJECT_CLASSES}


@dataclass
class PlacedObject:
    """One object of a chapter: class name and box in source pixels, xyxy, right/bottom exclusive."""

    name: str
    x1: int
    y1: int
    x2: int
    y2: int

    @property
    def box(self) -> list[float]:
        return [float(self.x1), float(self.y1), float(self.x2), float(self.y2)]


def _even(value: float) -> int:
    return int(round(value / 2)) * 2


def scale_of(width: int, height: int) -> float:
    return min(width / REFERENCE_SIZE[0], height / REFERENCE_SIZE[1])


def object_size(name: str, width: int, height: int) -> tuple[int, int]:
    """An object's (width, height) in a video of this frame size: even, at least 2."""
    s = scale_of(width, height)
    w, h = CLASSES[name].size
    return max(2, _even(w * s)), max(2, _even(h * s))


def topic_pool(action_objects, thing_objects) -> dict[str, float]:
    """The merged, weighted class pool of a topic (action pool + thing pool; weights add up)."""
    pool: dict[str, float] = {}
    for name, weight in (*action_objects, *thing_objects):
        pool[name] = pool.get(name, 0.0) + weight
    return pool


def domain_classes(domain: Domain) -> list[str]:
    """Every class some topic of the domain may show, in vocabulary order."""
    names = {n for part in (*domain.actions, *domain.things) for n, _ in part.objects}
    return [n for n in CLASS_NAMES if n in names]


def _weighted_sample(rng: random.Random, pool: dict[str, float], k: int) -> list[str]:
    """k distinct names, each draw proportional to weight among those not drawn yet."""
    left = dict(pool)
    chosen = []
    for _ in range(min(k, len(left))):
        names = list(left)
        name = rng.choices(names, weights=[left[n] for n in names])[0]
        chosen.append(name)
        del left[name]
    return chosen


def choose_topic_objects(rng: random.Random, pool: dict[str, float]) -> list[str]:
    """2-5 classes from the topic's pool, plus sometimes one class from outside it."""
    n = rng.randint(MIN_OBJECTS, max(MIN_OBJECTS, min(MAX_OBJECTS, len(pool))))
    names = _weighted_sample(rng, pool, n)
    if len(names) < MAX_OBJECTS and rng.random() < DISTRACTOR_PROBABILITY:
        names.append(rng.choice([c for c in CLASS_NAMES if c not in pool]))
    return names


def choose_special_objects(rng: random.Random, domain: Domain) -> list[str]:
    """An intro or outro shows nothing or one object of its domain (a frame with fewer than 2 objects)."""
    return [rng.choice(domain_classes(domain))] if rng.random() < SPECIAL_OBJECT_PROBABILITY else []


def place_objects(rng: random.Random, names: list[str], width: int, height: int) -> list[PlacedObject]:
    """Even-aligned, non-overlapping boxes inside the frame's central square (a gap between any two),
    largest first.

    The central square is what the extract stage keeps (shorter side scaled, centre crop), so no
    object is cut by the crop. An object that finds no free spot in PLACEMENT_TRIES tries is
    left out (only possible in tiny frames); the caller's list order is kept for the rest.
    """
    s = scale_of(width, height)
    margin, gap = _even(4 * s), max(2, _even(6 * s))
    side = min(width, height)
    left, top = _even((width - side) / 2), _even((height - side) / 2)
    sizes = {i: object_size(n, width, height) for i, n in enumerate(names)}
    placed: dict[int, PlacedObject] = {}
    for i in sorted(sizes, key=lambda i: -sizes[i][0] * sizes[i][1]):
        w, h = sizes[i]
        x_hi, y_hi = (left + side - margin - w) // 2, (top + side - margin - h) // 2
        x_lo, y_lo = (left + margin + 1) // 2, (top + margin + 1) // 2
        if x_hi < x_lo or y_hi < y_lo:
            continue
        for _ in range(PLACEMENT_TRIES):
            x, y = 2 * rng.randint(x_lo, x_hi), 2 * rng.randint(y_lo, y_hi)
            if all(x >= o.x2 + gap or o.x1 >= x + w + gap or y >= o.y2 + gap or o.y1 >= y + h + gap
                   for o in placed.values()):
                placed[i] = PlacedObject(names[i], x, y, x + w, y + h)
                break
    return [placed[i] for i in sorted(placed)]


def draw_rects(obj: PlacedObject) -> list[tuple[int, int, int, int, str]]:
    """What to draw for an object, in order: (x, y, width, height, colour), body first, then accents."""
    cls = CLASSES[obj.name]
    w, h = obj.x2 - obj.x1, obj.y2 - obj.y1
    rects = [(obj.x1, obj.y1, w, h, cls.colour)]
    for fx0, fy0, fx1, fy1, colour in cls.accents:
        ax0, ay0, ax1, ay1 = _even(fx0 * w), _even(fy0 * h), _even(fx1 * w), _even(fy1 * h)
        if ax1 > ax0 and ay1 > ay0:
            rects.append((obj.x1 + ax0, obj.y1 + ay0, ax1 - ax0, ay1 - ay0, colour))
    return rects


def box_rows(duration: int, chapters) -> list[dict]:
    """One row per second, t = 0, 1, ... < duration (the 1 fps grid of the extract stage): the boxes and
    labels of the chapter on screen at t (chapters start on whole seconds and objects stay still)."""
    rows = []
    for t in range(int(duration)):
        chapter = next(c for c in chapters if c.start <= t < c.end)
        rows.append({"time": float(t), "boxes": [o.box for o in chapter.objects],
                     "labels": [o.name for o in chapter.objects]})
    return rows
