"""One rule for bad predicted times and scores, and for the shape of references, across every evaluator.

Predictions come from models and users, so a bad *item* in them is dropped and counted, never kept silently
or scored as something it is not; references define the benchmark, so a reference *file* in the wrong shape
is an error naming it. Each evaluator reads its predictions through these checks (docs/evaluate.md, "Bad
input"), so the same input gets the same treatment and the same count name everywhere:

- a predicted window or event whose time is not two numbers (`malformed_time`), not finite
  (`non_finite_time`), negative (`negative_time`) or ends before it starts (`end_before_start`): dropped,
  counted as `predicted_<items>_dropped_<reason>`;
- a predicted score that is given but is not a finite number (NaN, infinity, a string such as "0.9", a
  boolean, null): the window is dropped and counted (`bad_score`), never ranked by the list order instead;
  a window given without any score keeps the list order (`-index`: first is best);
- references read from a file must be in their documented layout (grounding: JSON Lines rows, not a JSON
  list; dense captioning: a JSON object), or the run stops with an error naming the file.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from videolang.core.errors import BadInputError

BAD_SCORE = "bad_score"


def json_number(value: Any) -> float | None:
    """A JSON number as a float (None for anything else, booleans included)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def parse_span(value: Any) -> tuple[float, float] | str:
    """[start, end] -> floats, or the reason it is not a usable span (references and predictions alike)."""
    if not isinstance(value, (list, tuple)) or len(value) < 2:
        return "malformed_time"
    start, end = json_number(value[0]), json_number(value[1])
    if start is None or end is None:
        return "malformed_time"
    if not (math.isfinite(start) and math.isfinite(end)):
        return "non_finite_time"
    if end < start:
        return "end_before_start"
    return start, end


def predicted_span(value: Any) -> tuple[float, float] | str:
    """A predicted [start, end] as floats, or the reason it is dropped (the rule above)."""
    span = parse_span(value)
    if isinstance(span, str):
        return span
    if span[0] < 0:
        return "negative_time"
    return span


def predicted_score(window: Any, index: int) -> float | str:
    """The score of a predicted `[start, end, score]`: the number, `-index` when the window has no score
    (the list order ranks it), or `BAD_SCORE` when one is given but is not a finite number."""
    if not isinstance(window, (list, tuple)) or len(window) < 3:
        return -float(index)
    score = window[2]
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
        return BAD_SCORE
    return float(score)


def require_json_lines(source: Any, what: str, layout: str) -> None:
    """References given as a file must be JSON Lines (`.jsonl`): a `.json` file holding the same rows as a JSON
    list is another layout, refused by name as dense captioning refuses a list (an already loaded list of
    rows, from Python, is the parsed JSON Lines and passes)."""
    if isinstance(source, (str, Path)) and Path(source).suffix != ".jsonl":
        raise BadInputError(f"{what} must be a JSON Lines file (.jsonl, one {layout} row per line), not "
                            f"{Path(source).suffix or 'a file without extension'}", source,
                            "write one row per line and name the file .jsonl")
