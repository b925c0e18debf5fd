"""A rebuild becomes visible in one atomic step (issue 21, item 5) and is byte-identical when its input is
(item 10). The commit code (`videolang.builder.publish`) calls `COMMIT_HOOK` after each of its steps: the
tests look at the dataset there, as a reader or a kill -9 at that moment would find it, and stop a build
there."""
from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from videolang.builder import publish

CSV = "video_id,description,duration\n" + "".join(
    f'video{i:07d},"0:00 Intro\n0:{20 + i} The part about cooking\n1:{10 + i} The end",{100 + i}\n' for i in range(4))


def seen(out: Path) -> dict[str, str] | None:
    """What a reader of `out` finds: every file with its hash (None when there is no dataset at all)."""
    if not out.exists():
        return None
    return {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file()}


def test_two_builds_of_the_same_input_are_byte_identical(build, tmp_path):
    csv = tmp_path / "videos.csv"
    csv.write_text(CSV, encoding="utf-8")
    args = ("data=vidchapters", f"data.reader.path={csv}", "stage.out_dir=${paths.data_dir}/dataset",
            "stage.language.detect=true", "stage.language.restrict_to=[en,de]")  # its confidences too
    summary, out, code = build(*args)
    first = seen(out)
    report = json.loads((out / "report.json").read_text())
    assert code == 0 and report["languages"] == {"en": 4} and summary["build_seconds"] >= 0
    assert "seconds" not in report["settings"]  # the build time is the run's (summary.json), not the dataset's
    summary, out, code = build(*args)
    assert code == 0 and seen(out) == first


def fake_build(folder: Path, tag: str) -> Path:
    """A finished build as the builder leaves it in its staging folder: tables, task files, report."""
    (folder / "tasks").mkdir(parents=True)
    for name in ("videos.parquet", "chapters.parquet", "tasks/grounding_train.jsonl", "report.md"):
        (folder / name).write_text(f"{name} of build {tag}\n")
    (folder / "report.json").write_text(json.dumps({"tables": {"videos.parquet": 1, "chapters.parquet": 1},
                                                    "task_files": {"grounding_train.jsonl": 1}, "plots": []}))
    return folder


def test_every_step_of_a_rebuild_shows_one_whole_build(tmp_path, monkeypatch):
    out = tmp_path / "dataset"
    publish.publish(fake_build(tmp_path / ".dataset.building-a", "old"), out)
    (out / "notes.txt").write_text("mine")  # not a build's: goes along with every rebuild
    old = seen(out)
    steps: list[tuple[str, dict | None]] = []
    monkeypatch.setattr(publish, "COMMIT_HOOK", lambda step: steps.append((step, seen(out))))
    publish.publish(fake_build(tmp_path / ".dataset.building-b", "new"), out)
    new = seen(out)
    assert new["notes.txt"] == old["notes.txt"] and new["videos.parquet"] != old["videos.parquet"]
    # before the swap a reader sees the old dataset whole, from the swap on the new one whole: never a mix
    assert steps == [("carried", old), ("versioned", old), ("swapped", new), ("cleaned", new)]
    assert out.is_symlink() and sorted(p.name for p in tmp_path.iterdir()) == [out.resolve().name, "dataset"]


def test_a_rebuild_killed_while_replacing_a_plain_folder_is_undone_by_the_next(tmp_path, monkeypatch):
    out = fake_build(tmp_path / "dataset", "old")  # as older versions built it: a plain folder, no link
    old = seen(out)
    gone = subprocess.Popen(["true"])
    gone.wait()  # the killed build's process: not running any more
    monkeypatch.setattr(publish, "_owner", lambda pid=None: f"{publish._host()}-{gone.pid}")

    class Killed(Exception):
        pass

    def kill_at(step: str) -> None:
        if step == "set_aside":
            assert seen(out) is None  # the one moment of this path without a dataset: absent, never mixed
            raise Killed(step)

    monkeypatch.setattr(publish, "COMMIT_HOOK", kill_at)
    with pytest.raises(Killed):
        publish.publish(fake_build(tmp_path / ".dataset.building-x", "new"), out)
    monkeypatch.setattr(publish, "COMMIT_HOOK", None)
    publish.repair(out)  # what the next build does first: the old dataset is back, whole, and the debris gone
    assert seen(out) == old and not out.is_symlink() and sorted(p.name for p in tmp_path.iterdir()) == ["dataset"]
    publish.publish(fake_build(tmp_path / ".dataset.building-y", "new"), out)
    assert out.is_symlink() and seen(out)["videos.parquet"] != old["videos.parquet"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.resolve().name, "dataset"]
