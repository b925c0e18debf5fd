"""The dense-captioning layout shared by ActivityNet Captions, PDVC's YouCook2/ViTT files and VidChapters:
`{video_id: {"duration": s, "timestamps": [[start, end], ...], "sentences": [...]}}`."""
from __future__ import annotations

from pathlib import Path

from videolang.builder.converters import number, strip_prefix
from videolang.builder.records import VideoRecord
from videolang.core.errors import BadInputError
from videolang.core.failures import Failure
from videolang.core.io import read_json
from videolang.core.spans import Chapter


def read_dvc_file(path: str | Path, split: str, prefix: str | None = None) -> tuple[list[VideoRecord], list[Failure]]:
    """Records of one DVC-layout file; a malformed entry is a Failure naming the file and the video."""
    data = read_json(path)
    source = str(path)
    if isinstance(data, dict) and "results" in data and "version" in data:
        raise BadInputError("this is a predictions file (it has 'results'), not annotations", path)
    if not isinstance(data, dict):
        raise BadInputError("expected a JSON object {video_id: {duration, timestamps, sentences}}", path)
    records, failures = [], []
    for key, entry in data.items():
        try:
            if not isinstance(entry, dict):
                raise BadInputError("entry is not an object", source)
            timestamps, sentences = entry.get("timestamps"), entry.get("sentences")
            if not isinstance(timestamps, list) or not isinstance(sentences, list) or len(timestamps) != len(sentences):
                raise BadInputError("needs 'timestamps' and 'sentences' lists of equal length", source)
            chapters = []
            for i, (ts, sentence) in enumerate(zip(timestamps, sentences)):
                if not isinstance(ts, (list, tuple)) or len(ts) != 2:
                    raise BadInputError(f"timestamps[{i}] is not a [start, end] pair: {ts!r}", source)
                start, end = number(ts[0], f"timestamps[{i}][0]", source), number(ts[1], f"timestamps[{i}][1]", source)
                if end < start:
                    raise BadInputError(f"timestamps[{i}] ends before it starts: {ts!r}", source)
                chapters.append(Chapter(start, end, str(sentence).strip()))
            duration = entry.get("duration")
            records.append(VideoRecord(
                video_id=strip_prefix(str(key), prefix), source=source, chapters=chapters, split=split,
                duration=number(duration, "duration", source) if duration is not None else None))
        except BadInputError as e:
            failures.append(Failure(str(key), e.problem, source))
    return records, failures
