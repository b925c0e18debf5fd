"""VidChapters' released annotations through the builder: our task files equal what their preprocessing writes."""
from __future__ import annotations

import json
import os
import pickle

import pytest

from tests.imports.conftest import released_chapters, write_release
from tests.imports.vidchapters_reference import chapters_to_dvc, chapters_to_vmr
from videolang.builder.converters.vidchapters import REJECT_PTB_TITLE, REJECT_PUNCTUATION_TITLE, VidChaptersRelease
from videolang.builder.converters.vidchapters import chapters_to_vmr as chapters_to_vmr_ours
from videolang.core.errors import BadInputError
from videolang.core.plain_pickle import read_json_or_pickle, read_plain_pickle

NO_LANGUAGE = "stage.language.detect=false"


def _reader(release: dict[str, str]) -> list[str]:
    return [f"data.reader.{k}={v}" for k, v in release.items()]


def test_chapters_file_builds_their_chapters_dvc_files(build, release):
    summary, out, code = build("data=vidchapters_release", *_reader(release), NO_LANGUAGE)
    assert code == 0, summary
    data, splits = released_chapters()
    theirs = chapters_to_dvc(data, *(set(splits[s]) for s in ("train", "val", "test")))
    assert {s: sorted(v) for s, v in theirs.items()} == {
        "train": ["aaaaaaaaaa1", "aaaaaaaaaa3"], "val": ["aaaaaaaaaa6", "aaaaaaaaab0"], "test": ["aaaaaaaaaa8"]}
    for split, files in theirs.items():
        ours = json.loads((out / "tasks" / f"dense_captioning_{split}.json").read_text())
        # their `path` key aside, and their sentences past the last kept span (aaaaaaaaaa3 keeps 1 span for 3
        # labels: their loader's zip and their evaluator pair by position, so do we)
        assert ours == {vid: {"duration": e["duration"], "timestamps": e["timestamps"],
                              "sentences": e["sentences"][:len(e["timestamps"])]} for vid, e in files.items()}
    assert theirs["train"]["aaaaaaaaaa3"]["sentences"] == ["Intro", "Tasting", "Bonus"]
    rejected = json.loads((out / "report.json").read_text())["rejected"]
    assert rejected[REJECT_PUNCTUATION_TITLE] == 1 and rejected[REJECT_PTB_TITLE] == 1
    assert rejected["not_in_any_split"] == 1 and rejected["no_duration_field"] == 1


def _chapters(records):
    return {(r.split, r.video_id): (r.duration, [(c.start, c.end, c.title) for c in r.chapters]) for r in records}


def test_their_processed_files_and_the_vmr_rule(tmp_path):
    data, splits = released_chapters()
    lists = [set(splits[s]) for s in ("train", "val", "test")]
    theirs = chapters_to_dvc(data, *lists)
    files = {}
    for split, content in theirs.items():
        files[split] = tmp_path / f"chapters_dvc_{split}.json"
        files[split].write_text(json.dumps(content))
    from_files, failures = VidChaptersRelease(dvc_files={k: str(v) for k, v in files.items()}).records()
    assert not failures
    assert _chapters(from_files) == {(s, vid): (e["duration"], [(a, b, t) for (a, b), t in zip(e["timestamps"],
                                                                                               e["sentences"])])
                                     for s, f in theirs.items() for vid, e in f.items()}
    # cleaning=vmr: chapters_to_vmr.py's rows (aaaaaaaaaa2, without a duration, stops their script: ours names it)
    rows, failures = chapters_to_vmr_ours(data, dict(zip(("train", "val", "test"), lists)), "chapters.pkl")
    assert [f.item for f in failures] == ["aaaaaaaaaa2"]
    data.pop("aaaaaaaaaa2")
    vmr = chapters_to_vmr(data, *lists)
    assert rows == sorted((r for s in vmr for r in vmr[s]), key=lambda r: r["qid"])
    assert {r["vid"] for r in vmr["val"]} >= {"0aaaaaaaaaa5", "1aaaaaaaaaa5"}  # the DVC rules drop that video
    # the chapters file as JSON reads as the pickle does (numpy numbers come back as Python numbers)
    as_json, as_pickle = write_release(tmp_path / "j", as_pickle=False), write_release(tmp_path / "p")
    assert read_json_or_pickle(as_json["chapters"], "chapters file") == read_plain_pickle(as_pickle["chapters"])
    # their released chapters_vmr files: one record per YouTube id, one chapter per query window
    for split in ("train", "val"):
        (tmp_path / f"vmr_{split}.json").write_text("".join(json.dumps(r) + "\n" for r in vmr[split]))
    records, failures = VidChaptersRelease(vmr_files={s: str(tmp_path / f"vmr_{s}.json")
                                                      for s in ("train", "val")}).records()
    assert not failures
    assert _chapters(records)[("val", "aaaaaaaaaa5")] == (120, [(0.0, 60.0, "Intro"), (60.0, 120.0, "日本語")])
    assert _chapters(records)[("train", "aaaaaaaaaa1")][1] == [(0.0, 95.0, "Intro"), (95.0, 200.0, "Mixing the dough"),
                                                               (200.0, 300.0, "Baking")]


class Payload:
    """What a hostile pickle carries: a call made while loading."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_pickle_holding_code_is_refused_by_name_and_never_run(tmp_path):
    path, marker = tmp_path / "asr.pkl", tmp_path / "ran"
    path.write_bytes(pickle.dumps({"v": {"text": ["hi"], "start": [0.0], "end": [Payload(marker)]}}))
    with pytest.raises(BadInputError) as err:
        read_plain_pickle(path, "ASR file")
    assert str(err.value).startswith(f"{path}: ASR file holds {os.system.__module__}.system, which is not plain data")
    assert not marker.exists()
