"""The dense-captioning layout shared by ActivityNet Captions, PDVC's YouCook2/ViTT files and VidChapters:
`{video_id: {"duration": s, "timestamps": [[start, end], ...], "sentences": [...]}}`."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from videolang.builder.converters import duration_of, segment, strip_prefix
from videolang.builder.records import VideoRecord
from videolang.core.errors import BadInputError
from videolang.core.failures import Failure
from videolang.core.io import json_kind, read_json
from videolang.core.spans import Chapter


def read_dvc_file(path: str | Path, split: str, prefix: str | None = None) -> tuple[list[VideoRecord], list[Failure]]:
    """Records of one DVC-layout file; a malformed entry is a Failure naming the file and the video."""
    data = read_json(path, what="annotation file", expected="a JSON object {video_id: {duration, timestamps, sentences}}")
    if isinstance(data, dict) and "results" in data and "version" in data:
        raise BadInputError("this is a predictions file (it has 'results'), not annotations", path)
    return dvc_records(data, str(path), split, prefix)


def dvc_records(data: Any, source: str, split: str, prefix: str | None = None
                ) -> tuple[list[VideoRecord], list[Failure]]:
    """Records of a parsed DVC-layout object read from `source` (see `read_dvc_file`)."""
    if not isinstance(data, dict):
        raise BadInputError("expected a JSON object {video_id: {duration, timestamps, sentences}}, "
                            f"got a JSON {json_kind(data)}", source)
    records, failures = [], []
    for key, entry in data.items():
        try:
            if not isinstance(entry, dict):
                raise BadInputError(f"entry is a JSON {json_kind(entry)}, not an object", source)
            timestamps, sentences = entry.get("timestamps"), entry.get("sentences")
            if not isinstance(timestamps, list) or not isinstance(sentences, list) or len(timestamps) != len(sentences):
                raise BadInputError("needs 'timestamps' and 'sentences' lists of equal length", source)
            chapters = []
            for i, (ts, sentence) in enumerate(zip(timestamps, sentences)):
                if not isinstance(ts, (list, tuple)) or len(ts) != 2:
                    raise BadInputError(f"timestamps[{i}] is not a [start, end] pair: {ts!r}", source)
                start, end = segment(ts[0], ts[1], f"timestamps[{i}]", source)
                chapters.append(Chapter(start, end, str(sentence).strip()))
            records.append(VideoRecord(
                video_id=strip_prefix(str(key), prefix), source=source, chapters=chapters, split=split,
                duration=duration_of(entry.get("duration"), source)))
        except BadInputError as e:
            failures.append(Failure(str(key), f"video skipped: {e.problem}", source))
    return records, failures
