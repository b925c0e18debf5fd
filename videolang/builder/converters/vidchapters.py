"""VidChapters-7M's released annotations: the chapters file, its processed DVC / VMR files, split lists.

Inputs (JSON or pickle; pickles through `videolang.core.plain_pickle`, data only):

- `chapters`: `{vid: {"chapters": [{"label": str, "time": s}, ...], "duration": s, ...}}` (`chapters.pkl`)
  with `split_ids` `{train: train.json, val: val.json, test: test.json}` (JSON lists of ids);
- `dvc_files`: their processed `chapters_dvc_<split>.json`
  (`{vid: {"duration", "timestamps", "sentences", "path"}}`), split from the key;
- `vmr_files`: their processed `chapters_vmr_<split>.json` (JSON Lines, one query per row; train rows
  hold every query of a video), split from the key: grounding only (`tasks: [grounding]`).

From `chapters`, `cleaning: dvc` applies `preproc/chapters_to_dvc.py` of antoyang/VidChapters rule for
rule (`chapters_to_dvc`), so the built `dense_captioning_<split>.json` equals their
`chapters_dvc_<split>.json` (docs/import.md lists the rules and the two places where a file in our
schema cannot hold theirs byte for byte); `cleaning: vmr` applies `preproc/chapters_to_vmr.py`'s
span rule only (its files keep videos the DVC title rules drop).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from videolang.builder.converters import AnnotationReader, number
from videolang.builder.converters.dvc import dvc_records
from videolang.builder.records import VideoRecord
from videolang.builder.splits import read_id_list
from videolang.core.errors import BadInputError, ConfigError
from videolang.core.failures import Failure
from videolang.core.io import json_kind, json_lines
from videolang.core.plain_pickle import read_json_or_pickle
from videolang.core.spans import Chapter

SPLITS = ("train", "val", "test")
# why chapters_to_dvc.py leaves a video out (counted in report.json "rejected")
REJECT_NO_DURATION = "no_duration_field"
REJECT_NO_SPAN = "no_span_within_duration"
REJECT_PUNCTUATION_TITLE = "title_empty_after_punctuation_filter"
REJECT_PTB_TITLE = "title_empty_after_ptb_tokenisation"
REJECT_NO_SPLIT = "not_in_any_split"
# the characters chapters_to_dvc.py's `filter` blanks ('\\n' there is the two characters backslash, n)
PUNCTUATION = (",", ":", "!", "_", ";", "-", ".", "?", "/", '"', "\\n", "\\")


def remove_nonascii(text: str) -> str:
    return "".join(c if ord(c) < 128 else " " for c in text)


def punctuation_filter(sentence: str) -> str:
    """chapters_to_dvc.py's `filter`: marks blanked, runs of spaces shortened, stripped, lower-cased."""
    for mark in PUNCTUATION:
        if mark in sentence:
            sentence = sentence.replace(mark, " ")
        for _ in range(3):
            sentence = sentence.replace("  ", " ")
    return sentence.strip().lower()


def chapter_spans(anns: dict[str, Any], source: str) -> list[list[float]]:
    """[t_i, t_{i+1}] per chapter, the last ending at the duration (before any filtering)."""
    chapters = anns.get("chapters")
    if not isinstance(chapters, list) or not all(isinstance(c, dict) for c in chapters):
        raise BadInputError(f"'chapters' must be a list of {{label, time}} objects, got {str(chapters)[:60]}",
                            source)
    times = [number(c.get("time"), f"chapters[{i}].time", source) for i, c in enumerate(chapters)]
    duration = number(anns.get("duration"), "duration", source)
    return [[t, times[i + 1] if i < len(times) - 1 else duration] for i, t in enumerate(times)]


def _labels(anns: dict[str, Any], source: str) -> list[str]:
    labels = [c.get("label") for c in anns["chapters"]]
    for i, label in enumerate(labels):
        if not isinstance(label, str):
            raise BadInputError(f"chapters[{i}].label is not a string: {label!r}", source)
    return labels


def chapters_to_dvc(data: dict[str, Any], tokenize: Callable[[list[str]], dict[str, str]], source: str
                    ) -> tuple[dict[str, dict], dict[str, str], list[Failure]]:
    """Their `out` of chapters_to_dvc.py (every video, before the split lists), `{vid: reason}` of the videos
    left out, and the entries that could not be read at all (their script would have stopped on them).

    Per video with a `duration`: spans [t_i, t_{i+1}] (last: [t_n, duration]) kept when
    start <= end <= duration, none kept -> out; any label empty after `punctuation_filter` -> out; any label
    empty after non-ASCII removal + PTB tokenisation -> out. Kept: `{"duration", "timestamps" (the kept
    spans), "sentences" (every label, as given), "path": vid + ".mp4.npy"}`.
    """
    dropped, failures, candidates = {}, [], {}
    for vid, anns in data.items():
        try:
            if not isinstance(anns, dict):
                raise BadInputError(f"entry is a {json_kind(anns)}, not an object", source)
            if "duration" not in anns:
                dropped[str(vid)] = REJECT_NO_DURATION
                continue
            duration = number(anns["duration"], "duration", source)
            spans = [s for s in chapter_spans(anns, source) if s[0] <= s[1] <= duration]
            labels = _labels(anns, source)
        except BadInputError as e:
            failures.append(Failure(str(vid), f"video skipped: {e.problem}", source))
            continue
        if not spans:
            dropped[str(vid)] = REJECT_NO_SPAN
            continue
        candidates[str(vid)] = (duration, spans, labels)
    tokens = tokenize([remove_nonascii(label).strip() for _, _, labels in candidates.values() for label in labels])
    out = {}
    for vid, (duration, spans, labels) in candidates.items():
        if not all(punctuation_filter(label) for label in labels):
            dropped[vid] = REJECT_PUNCTUATION_TITLE
        elif not all(tokens[remove_nonascii(label).strip()].strip() for label in labels):
            dropped[vid] = REJECT_PTB_TITLE
        else:
            out[vid] = {"duration": duration, "timestamps": spans, "sentences": labels, "path": vid + ".mp4.npy"}
    return out, dropped, failures


def chapters_to_vmr(data: dict[str, Any], splits: dict[str, set[str]], source: str
                    ) -> tuple[list[dict[str, Any]], list[Failure]]:
    """The rows of chapters_to_vmr.py, in its order (its `qid` counter, `str(k) + vid` ids in val / test, one
    row per video with every query in train), each with its `split`. Windows covering 90% of the video or
    more, or not within [0, duration] (start <= end <= duration), are left out. A listed video that cannot be
    read (their script stops on it; no duration, say) is a failure naming it."""
    rows, seen, failures = [], Counter(), []
    for vid, anns in data.items():
        split = next((s for s in SPLITS if vid in splits.get(s, ())), None)
        if split is None:
            continue
        try:
            if not isinstance(anns, dict):
                raise BadInputError(f"entry is a {json_kind(anns)}, not an object", source)
            duration = number(anns.get("duration"), "duration", source)
            spans, labels = chapter_spans(anns, source), _labels(anns, source)
        except BadInputError as e:
            failures.append(Failure(str(vid), f"video skipped: {e.problem}", source))
            continue
        kept = [(label, span) for label, span in zip(labels, spans)
                if not span[1] - span[0] >= 0.9 * duration and span[0] <= span[1] <= duration]
        if not kept:
            continue
        if split == "train":
            rows.append({"qid": len(rows), "query": [q for q, _ in kept], "vid": vid, "duration": int(duration),
                         "split": split, "relevant_windows": [[w] for _, w in kept]})
            continue
        for label, window in kept:
            rows.append({"qid": len(rows), "query": label, "vid": f"{seen[vid]}{vid}", "duration": int(duration),
                         "split": split, "relevant_windows": [window]})
            seen[vid] += 1
    return rows, failures


def vmr_video_id(vid: str, split: str) -> str:
    """The YouTube id of a VMR row: val / test rows prefix it with the query's index in the video
    (`str(k) + vid`); VidChapters' own loader keeps the last 11 characters, as done here."""
    return vid[-11:] if split != "train" and len(vid) > 11 else vid


def vmr_records(rows: Iterable[tuple[int, Any]], split: str, source: str) -> tuple[list[VideoRecord], list[Failure]]:
    """One record per video of a chapters_vmr file: each query a chapter spanning its window, titled by it."""
    by_video: dict[str, tuple[float, list[Chapter]]] = {}
    failures = []
    for line, row in rows:
        try:
            if not isinstance(row, dict):
                raise BadInputError(f"row is a JSON {json_kind(row)}, not an object", source)
            queries, windows = row.get("query"), row.get("relevant_windows")
            if isinstance(queries, str):  # val / test: one query, its windows
                queries, windows = [queries], [windows]
            if not isinstance(queries, list) or not isinstance(windows, list) or len(queries) != len(windows):
                raise BadInputError("needs 'query' and 'relevant_windows' (lists of equal length in train rows)",
                                    source)
            vid = vmr_video_id(str(row.get("vid")), split)
            duration = number(row.get("duration"), "duration", source)
            chapters = by_video.setdefault(vid, (duration, []))[1]
            for query, wins in zip(queries, windows):
                for w in wins if isinstance(wins, list) else [wins]:
                    if not isinstance(w, list) or len(w) != 2:
                        raise BadInputError(f"a relevant window is not [start, end]: {w!r}", source)
                    chapters.append(Chapter(number(w[0], "window start", source), number(w[1], "window end", source),
                                            str(query)))
        except BadInputError as e:
            failures.append(Failure(f"{Path(source).name}:{line}", f"row skipped: {e.problem}", source))
    records = [VideoRecord(video_id=vid, source=source, chapters=sorted(chs, key=lambda c: (c.start, c.end)),
                           split=split, duration=duration) for vid, (duration, chs) in by_video.items()]
    return records, failures


@dataclass
class VidChaptersRelease(AnnotationReader):
    """One of: `chapters` (+ `split_ids`), `dvc_files` or `vmr_files` (see the module docstring).

    `tokenizer`: PTB tokenisation (`videolang.evaluate.ptb.ptb_tokenize`, given by the config), used by
    `cleaning: dvc` as chapters_to_dvc.py uses pycocoevalcap's PTBTokenizer.
    """

    chapters: str | None = None
    split_ids: dict[str, str] | None = None
    dvc_files: dict[str, str] | None = None
    vmr_files: dict[str, str] | None = None
    cleaning: str = "dvc"
    tokenizer: Callable[[list[str]], dict[str, str]] | None = None

    @property
    def input_path(self) -> str | None:
        given = self.chapters or next(iter((self.dvc_files or self.vmr_files or {}).values()), None)
        return None if given is None else str(given)

    def records(self) -> tuple[list[VideoRecord], list[Failure]]:
        given = [k for k in ("chapters", "dvc_files", "vmr_files") if getattr(self, k)]
        if len(given) != 1:
            raise ConfigError(f"data.reader needs exactly one of chapters, dvc_files, vmr_files (got "
                              f"{', '.join(given) or 'none'})")
        if self.dvc_files or self.vmr_files:
            return self._processed()
        if self.cleaning not in ("dvc", "vmr"):
            raise ConfigError(f"data.reader.cleaning must be dvc or vmr, not {self.cleaning!r}")
        if not self.split_ids or set(self.split_ids) - set(SPLITS):
            raise ConfigError("data.reader.split_ids must map train / val / test to their id lists "
                              f"(train.json, val.json, test.json), got {self.split_ids!r}")
        data = read_json_or_pickle(self.chapters, "chapters file")
        source = str(self.chapters)
        if not isinstance(data, dict):
            raise BadInputError(f"expected {{video_id: {{chapters, duration}}}}, got a {json_kind(data)}", source)
        splits = {s: set(read_id_list(p)) for s, p in self.split_ids.items()}
        if self.cleaning == "vmr":
            rows, failures = chapters_to_vmr(data, splits, source)
            records, failed = self._from_vmr_rows(rows, source)
            return records, failures + failed
        if self.tokenizer is None:
            raise ConfigError("data.reader.tokenizer is not set: cleaning=dvc needs the PTB tokenizer "
                              "(videolang.evaluate.ptb.ptb_tokenize)")
        out, dropped, failures = chapters_to_dvc(data, self.tokenizer, source)
        records = [VideoRecord(video_id=vid, source=source, chapters=[], rejected=reason) for vid, reason in dropped.items()]
        for vid, entry in out.items():
            split = next((s for s in SPLITS if vid in splits.get(s, ())), None)
            records.append(VideoRecord(video_id=vid, source=source, duration=entry["duration"], split=split,
                                       chapters=[Chapter(s, e, t) for (s, e), t in zip(entry["timestamps"],
                                                                                       entry["sentences"])],
                                       rejected=None if split else REJECT_NO_SPLIT))
        return records, failures

    def _from_vmr_rows(self, rows: list[dict[str, Any]], source: str) -> tuple[list[VideoRecord], list[Failure]]:
        records, failures = [], []
        for split in SPLITS:
            got, failed = vmr_records(enumerate((r for r in rows if r["split"] == split), start=1), split, source)
            records += got
            failures += failed
        return records, failures

    def _processed(self) -> tuple[list[VideoRecord], list[Failure]]:
        files = self.dvc_files or self.vmr_files
        if set(files) - set(SPLITS):
            raise ConfigError(f"data.reader: split names must be train / val / test, got {sorted(files)}")
        records, failures = [], []
        for split, path in files.items():
            if self.vmr_files:
                rows = []
                for n, row, problem in json_lines(path, "VMR file"):
                    if problem is None:
                        rows.append((n, row))
                    else:
                        failures.append(Failure(f"{Path(path).name}:{n}", f"row skipped: {problem}", str(path)))
                got, failed = vmr_records(rows, split, str(path))
            else:
                data = read_json_or_pickle(path, "DVC file")
                if isinstance(data, dict):  # their `path` key dropped; sentences past the kept spans unpaired
                    data = {vid: {**e, "sentences": e["sentences"][:len(e["timestamps"])]}
                            if isinstance(e, dict) and isinstance(e.get("sentences"), list)
                            and isinstance(e.get("timestamps"), list) else e for vid, e in data.items()}
                got, failed = dvc_records(data, str(path), split)
            records += got
            failures += failed
        return records, failures
