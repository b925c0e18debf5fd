"""Multiple-choice questions (TVQA's fields), shared by every source that has them.

One parser (`question_from_row`) for TVQA's question files and the sample corpus's
`<stem>.qa.jsonl` sidecars, and the checks that need the whole picture: a question's
`ts` against the video's duration (`check_times`, where the duration is known) and
qids unique within a dataset (`drop_repeated_qids`, in the main process).
"""
from __future__ import annotations

import math
from collections import Counter
from typing import Any

from videolang.core.errors import BadInputError
from videolang.core.failures import Failure
from videolang.core.io import invalid_unicode

# Private notes on a question row, removed before tables are written: where it came from
# (("file:line", path of the file)), and that its `ts` was given but unreadable (counted by check_times).
WHERE = "_where"
TS_UNREADABLE = "_ts_unreadable"
ADJUST_TS_UNREADABLE = "question_ts_unreadable"
ADJUST_TS_CLIPPED = "question_ts_end_clipped_to_duration"
ADJUST_TS_OUTSIDE = "question_ts_outside_video_dropped"
ADJUST_REPEATED_QID = "question_repeated_qid_dropped"


def parse_ts(ts: object) -> list[float] | None:
    """"76.01-84.2" -> [76.01, 84.2]; None for "NaN-NaN" or anything unreadable."""
    try:
        start, end = (float(x) for x in str(ts).split("-", 1))
    except ValueError:
        return None
    if not (math.isfinite(start) and math.isfinite(end)) or end < start or start < 0:
        return None
    return [start, end]


def question_from_row(row: Any, where: str, path: str | None = None) -> dict:
    """`{"qid", "question", "answers", "answer_idx", "ts", "show_name", "category"}` from a TVQA row.

    Answers are `a0`, `a1`, ... (contiguous; TVQA has 5). `answer_idx` may be absent (a test
    split); out of range it is an error, as are fewer than two answers. An unreadable `ts`
    becomes None (the caller counts it). Raises BadInputError naming `where`.
    """
    if not isinstance(row, dict):
        raise BadInputError(f"expected a JSON object, got {type(row).__name__}", where)
    missing = [k for k in ("qid", "q") if row.get(k) is None]
    if missing:
        raise BadInputError(f"question row has no {', '.join(missing)}", where)
    qid = row["qid"]
    answers = []
    while row.get(f"a{len(answers)}") is not None:
        answers.append(str(row[f"a{len(answers)}"]))
    if len(answers) < 2:
        raise BadInputError(f"question {qid}: fewer than two answers (a0, a1, ...)", where)
    answer_idx = row.get("answer_idx")
    if answer_idx is not None:
        try:
            answer_idx = int(answer_idx)
        except (TypeError, ValueError):
            raise BadInputError(f"question {qid}: answer_idx {answer_idx!r} is not an integer", where) from None
        if not 0 <= answer_idx < len(answers):
            raise BadInputError(f"question {qid}: answer_idx {answer_idx} outside 0..{len(answers) - 1}", where)
    category = row.get("category")
    show = row.get("show_name")
    if any(invalid_unicode(v) for v in (row["q"], *answers, category, show)):
        raise BadInputError(f"question {qid}: invalid Unicode (a lone surrogate escape such as \\ud800)", where)
    ts = parse_ts(row.get("ts"))
    question = {"qid": qid, "question": str(row["q"]), "answers": answers, "answer_idx": answer_idx, "ts": ts,
                "show_name": str(show) if show is not None else None,
                "category": str(category) if category is not None else None, WHERE: (where, path)}
    if ts is None and row.get("ts") not in (None, ""):
        question[TS_UNREADABLE] = True
    return question


def check_times(questions: list[dict], duration: float | None, adjusted: Counter, source: str) -> \
        tuple[list[dict], list[Failure]]:
    """Questions whose `ts` fits the video: an end past the duration is clipped (counted), a
    start at or after it drops the question (a Failure). Unknown duration: nothing to check.
    Also counts the unreadable `ts` values that `question_from_row` set to None."""
    kept, failures = [], []
    for q in questions:
        if q.pop(TS_UNREADABLE, False):
            adjusted[ADJUST_TS_UNREADABLE] += 1
        ts = q.get("ts")
        if ts is not None and duration is not None:
            if ts[0] >= duration:
                adjusted[ADJUST_TS_OUTSIDE] += 1
                item, path = q.get(WHERE) or (str(q["qid"]), None)
                failures.append(Failure(item, f"question {q['qid']}: ts {ts[0]:g}-{ts[1]:g} outside the video "
                                        f"({duration:g} s)", path or source))
                continue
            if ts[1] > duration:
                adjusted[ADJUST_TS_CLIPPED] += 1
                q = dict(q, ts=[ts[0], float(duration)])
        kept.append(q)
    return kept, failures


def drop_repeated_qids(questions: list[dict], seen: set, source: str, adjusted: Counter) -> \
        tuple[list[dict], list[Failure]]:
    """The questions whose qid is new to `seen` (which they join); a repeat is a Failure naming
    the qid and its file. Also strips the private `WHERE` note, so call it once per kept video."""
    kept, failures = [], []
    for q in questions:
        item, path = q.pop(WHERE, None) or (str(q["qid"]), None)
        key = str(q["qid"])
        if key in seen:
            adjusted[ADJUST_REPEATED_QID] += 1
            failures.append(Failure(item, f"repeated qid {q['qid']} (the first one is kept)", path or source))
            continue
        seen.add(key)
        kept.append(q)
    return kept, failures
