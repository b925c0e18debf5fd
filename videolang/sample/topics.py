"""The topic vocabulary of the sample corpus: what each chapter looks like, says and is called.

A chapter's topic is an (action, object) pair from one domain, e.g. ("Mixing",
"the dough"). The mapping is fixed (it does not depend on the seed), so a model
trained on one seed's corpus can be tested on another's, and it is
compositional, so it is learnable but not a lookup of whole scenes:

- the object sets the background hue and the shape's colour (its complement);
- the action sets the background brightness, the shape and how it moves;
- the narration names both (in varying sentences, sometimes mentioning the
  previous step too), and the title is "<Action> <object>";
- the action and the thing each bring a weighted pool of object classes
  (`objects`), from which the chapter's 2-5 drawn objects are sampled (see
  videolang.sample.objects), so which objects co-occur depends on the topic.

Intro and outro chapters have their own dark looks; their title ("Intro",
"Welcome", "Final thoughts", ...) follows from the wording of their narration.
"""
from __future__ import annotations

import colorsys
from dataclasses import dataclass

# Shapes are alpha masks over a square tile of side S (ffmpeg geq variables X, Y, W, H).
SHAPE_MASKS: dict[str, str] = {
    "square": "1",
    "circle": "lte(hypot(X-W/2,Y-H/2),W/2)",
    "diamond": "lte(abs(X-W/2)+abs(Y-H/2),W/2)",
    "triangle": "lte(2*abs(X-W/2),Y)",
    "ring": "between(hypot(X-W/2,Y-H/2),W/4,W/2)",
    "cross": "lt(abs(X-W/2),W/6)+lt(abs(Y-H/2),H/6)",
    "bar": "between(Y,H/3,2*H/3)",
}

# Motions are overlay position expressions (W, H: frame; w, h: shape; t: seconds into the
# chapter; {period}: the period in seconds, filled in per video).
MOTIONS: dict[str, tuple[str, str]] = {
    "still": ("(W-w)/2", "(H-h)/2"),
    "sweep": ("(W-w)*(0.5+0.5*sin(2*PI*t/{period}))", "(H-h)/2"),
    "bounce": ("(W-w)/2", "(H-h)*abs(sin(PI*t/{period}))"),
    "orbit": ("(W-w)/2+0.3*(W-w)*cos(2*PI*t/{period})", "(H-h)/2+0.3*(H-h)*sin(2*PI*t/{period})"),
    "diagonal": ("(W-w)*abs(mod(t/{period},2)-1)", "(H-h)*abs(mod(t/{period},2)-1)"),
    "drift": ("(W-w)*(0.5+0.2*sin(2*PI*t/{period}))", "(H-h)*(0.35+0.1*cos(2*PI*t/{period}))"),
}


@dataclass(frozen=True)
class Action:
    ing: str  # "Mixing": starts the title
    base: str  # "mix"
    shape: str
    motion: str
    details: tuple[str, ...]  # sentences that only this action says
    objects: tuple[tuple[str, float], ...] = ()  # (object class, weight): what its chapters tend to show


@dataclass(frozen=True)
class Thing:
    phrase: str  # "the dough": ends the title
    hue: float  # degrees
    details: tuple[str, ...]
    objects: tuple[tuple[str, float], ...] = ()  # added to the action's pool (weights add up)


@dataclass(frozen=True)
class Domain:
    name: str
    category: str
    actions: tuple[Action, ...]  # in the order they happen in a video
    things: tuple[Thing, ...]
    subjects: tuple[str, ...]  # what a whole video is about: "a pizza"
    video_titles: tuple[str, ...]  # "{subject}" filled in


@dataclass(frozen=True)
class Special:
    """An intro or outro: the title follows from its narration's wording."""

    title: str
    narration: str  # may contain {subject}


DOMAINS: tuple[Domain, ...] = (
    Domain(
        "cooking", "Howto & Style",
        actions=(
            Action("Preparing", "prepare", "square", "sweep",
                   ("Get everything ready on the board first.", "A clean workspace makes this easier."),
                   objects=(("knife", 1.0), ("board", 1.0), ("bowl", 0.3))),
            Action("Mixing", "mix", "circle", "orbit",
                   ("Stir slowly so nothing spills over.", "Keep the bowl steady while you stir."),
                   objects=(("bowl", 1.0), ("spoon", 0.9))),
            Action("Cooking", "cook", "triangle", "bounce",
                   ("Keep the heat at a medium level.", "Watch the pan so nothing burns."),
                   objects=(("pot", 1.0), ("spoon", 0.6))),
            Action("Tasting", "taste", "diamond", "diagonal",
                   ("Add a pinch of salt if it needs it.", "Use a clean spoon every time."),
                   objects=(("spoon", 1.0), ("bowl", 0.5))),
            Action("Serving", "serve", "bar", "sweep",
                   ("Use warm plates if you have them.", "A little garnish on top looks nice."),
                   objects=(("plate", 1.0), ("spoon", 0.3))),
        ),
        things=(
            Thing("the dough", 60, ("It should feel soft and a little sticky.",),
                  objects=(("board", 0.6), ("bowl", 0.4))),
            Thing("the sauce", 0, ("It should be thick and glossy.",),
                  objects=(("tomato", 1.0), ("pot", 0.5))),
            Thing("the soup", 200, ("The soup smells wonderful already.",),
                  objects=(("onion", 0.8), ("pot", 0.8))),
            Thing("the salad", 130, ("Fresh leaves make all the difference.",),
                  objects=(("tomato", 0.8), ("onion", 0.6), ("bowl", 0.5))),
            Thing("the filling", 280, ("Spread the filling evenly.",),
                  objects=(("onion", 0.6), ("knife", 0.4))),
        ),
        subjects=("a pizza", "a vegetable soup", "an apple pie", "fresh pasta"),
        video_titles=("How to make {subject} at home", "Easy recipe: {subject} for beginners",
                      "My favourite way to make {subject}"),
    ),
    Domain(
        "gardening", "Howto & Style",
        actions=(
            Action("Planting", "plant", "triangle", "orbit",
                   ("Dig a small hole and press the soil down.", "Leave enough space between each one."),
                   objects=(("seedling", 1.0), ("trowel", 1.0))),
            Action("Watering", "water", "ring", "bounce",
                   ("Water early in the morning when it is cool.", "Aim at the roots, not the leaves."),
                   objects=(("watering_can", 1.0),)),
            Action("Pruning", "prune", "cross", "sweep",
                   ("Cut just above a healthy bud.", "Sharp shears make a clean cut."),
                   objects=(("shears", 1.0),)),
            Action("Harvesting", "harvest", "circle", "diagonal",
                   ("Pick only what is ripe today.", "Put everything in a shallow basket."),
                   objects=(("basket", 1.0), ("shears", 0.4))),
        ),
        things=(
            Thing("the tomatoes", 5, ("Tomatoes love plenty of sun.",),
                  objects=(("tomato", 1.0), ("seedling", 0.3))),
            Thing("the roses", 300, ("Roses need a little extra care.",),
                  objects=(("shears", 0.6), ("watering_can", 0.3))),
            Thing("the herbs", 135, ("Herbs grow quickly in warm weather.",),
                  objects=(("seedling", 0.8), ("basket", 0.3))),
            Thing("the beans", 65, ("Beans climb up the canes by themselves.",),
                  objects=(("seedling", 0.6), ("basket", 0.4))),
        ),
        subjects=("the vegetable garden", "the greenhouse", "a small balcony garden"),
        video_titles=("A weekend in {subject}", "Spring jobs in {subject}", "A busy day in {subject}"),
    ),
    Domain(
        "workshop", "Howto & Style",
        actions=(
            Action("Cleaning", "clean", "bar", "bounce",
                   ("Wipe off all the dust with a damp cloth.", "Let it dry completely before the next step."),
                   objects=(("cloth", 1.0),)),
            Action("Sanding", "sand", "square", "diagonal",
                   ("Start with coarse paper and finish with fine paper.", "Always sand along the grain."),
                   objects=(("sandpaper", 1.0), ("cloth", 0.3))),
            Action("Repairing", "repair", "cross", "orbit",
                   ("A little wood glue fixes the loose joint.", "Clamp it tight and wait an hour."),
                   objects=(("hammer", 1.0), ("drill", 0.6), ("saw", 0.4))),
            Action("Painting", "paint", "ring", "sweep",
                   ("Thin coats look much better than thick ones.", "Keep a wet edge while you paint."),
                   objects=(("paintbrush", 1.0),)),
        ),
        things=(
            Thing("the chair", 30, ("This old chair came from a flea market.",),
                  objects=(("plank", 0.5), ("hammer", 0.3))),
            Thing("the table", 100, ("The table top has a few deep scratches.",),
                  objects=(("plank", 0.8), ("saw", 0.4))),
            Thing("the shelf", 190, ("The shelf is made of solid pine.",),
                  objects=(("plank", 0.7), ("drill", 0.5))),
            Thing("the door", 260, ("The door sticks a little at the bottom.",),
                  objects=(("drill", 0.6), ("saw", 0.3))),
        ),
        subjects=("an old chair", "a kitchen table", "some old furniture"),
        video_titles=("Restoring {subject}", "Workshop day: fixing {subject}", "Bringing {subject} back to life"),
    ),
)

# How a topic chapter's narration opens: names the action and the object.
OPENINGS: tuple[str, ...] = (
    "Now we are {ing} {thing}.",
    "Next, it is time for {ing} {thing}.",
    "In this step I am {ing} {thing}.",
    "Let's {base} {thing} now.",
    "Here you can see me {ing} {thing}.",
)
# Sometimes a chapter looks back at the previous one (a distractor word for the model).
LOOK_BACK = "Now that we are done with {prev}, we can move on."

INTROS: tuple[Special, ...] = (
    Special("Intro", "In this video we take a look at {subject}."),
    Special("Welcome", "Welcome back to the channel. Today it is all about {subject}."),
    Special("Introduction", "A short introduction first. This time we are working on {subject}."),
)
OUTROS: tuple[Special, ...] = (
    Special("Outro", "That is all for this video. See you in the next one."),
    Special("Final thoughts", "My final thoughts: this turned out better than I expected."),
    Special("Thanks for watching", "Thanks for watching, and please subscribe for more."),
)

# With `titles_spoken=false` (SampleParams): a chapter's narration opens with one of these, and intro / outro
# chapters whose sentences all name a title word say one of the last two; none names a title word.
NEUTRAL_OPENINGS: tuple[str, ...] = (
    "On to the next step.",
    "Here is the next part.",
    "Let's keep going.",
    "This part takes a little patience.",
    "Take your time here.",
)
NEUTRAL_INTRO = "Let's get started."
NEUTRAL_OUTRO = "That is it for today."

INTRO_LOOK = ("#1c1c1c", "#f0f0f0", "square", "still")
OUTRO_LOOK = ("#1a2233", "#f0f0f0", "bar", "drift")

# Background brightness per position in a domain's action list (HSV value).
ACTION_VALUES: tuple[float, ...] = (0.40, 0.52, 0.64, 0.76, 0.88)
BACKGROUND_SATURATION = 0.55
# A quiet ambient tone per action position (Hz), so the audio stream carries the topic too.
AMBIENT_HZ: tuple[float, ...] = (165.0, 220.0, 275.0, 330.0, 385.0)
AMBIENT_LEVEL = 0.02  # peak amplitude, about -34 dBFS: far below the narration


def hsv_hex(hue_deg: float, saturation: float, value: float) -> str:
    r, g, b = colorsys.hsv_to_rgb((hue_deg % 360) / 360.0, min(max(saturation, 0), 1), min(max(value, 0), 1))
    return "#{:02x}{:02x}{:02x}".format(round(r * 255), round(g * 255), round(b * 255))


def topic_colours(domain: Domain, action_index: int, thing: Thing, hue_jitter: float = 0.0,
                  value_jitter: float = 0.0) -> tuple[str, str]:
    """(background, shape colour) of a topic chapter, with a small per-video jitter."""
    value = ACTION_VALUES[action_index] + value_jitter
    background = hsv_hex(thing.hue + hue_jitter, BACKGROUND_SATURATION, value)
    shape = hsv_hex(thing.hue + hue_jitter + 180, 0.8, 1.0 if value < 0.7 else 0.35)
    return background, shape


def title_of(action: Action, thing: Thing) -> str:
    return f"{action.ing} {thing.phrase}"
