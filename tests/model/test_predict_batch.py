"""stage=predict videos=...: one set of outputs per video, the store's rules (skip done, failures journaled and
not retried, exit 3 only for real failures), shards like stage=extract, several processes under trainer=ddp_sim."""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from videolang.core.ids import id_to_filename
from videolang.extract.sources import list_videos, shard
from videolang.predict.batch import JOURNAL_DIR, MARK_SUFFIX, format_report
from videolang.run import EXIT_ITEMS_FAILED, EXIT_OK, run_stage

# one xdist worker builds this module's fixtures once; not about encoding
pytestmark = [pytest.mark.usefixtures("encoding_cache"), pytest.mark.xdist_group("predict_batch")]

OUTPUTS = (".chapters.json", ".youtube.txt", ".chapters.vtt", MARK_SUFFIX)


def _batch(make_cfg, trained, videos, out_dir: Path, run: Path, *extra: str):
    from omegaconf import open_dict

    cfg = make_cfg("stage=predict", f"videos={videos}", f"ckpt={trained['ckpt']}",
                   f"paths.model_dir={trained['model_dir']}", f"stage.out_dir={out_dir}", "stage.device=cpu",
                   "stage.progress=false", *extra)
    with open_dict(cfg):
        cfg.paths.output_dir = str(run)  # one run folder per run, as under the command line
    code = run_stage(cfg)
    return code, json.loads((run / "summary.json").read_text())


def _files(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _journal_rows(out_dir: Path) -> list[dict]:
    return [json.loads(line) for p in sorted((out_dir / JOURNAL_DIR).glob("*.jsonl"))
            for line in p.read_text().splitlines() if line.strip()]


def batch_videos(trained: dict) -> list[dict]:
    """The sample videos of the batch folder: two of those the checkpoint was trained on."""
    return trained["videos"][:2]


@pytest.fixture(scope="module")
def batch_folder(trained_on_sample, sample_corpus, tmp_path_factory) -> Path:
    """Two sample videos the checkpoint was trained on, a video without an audio stream, a zero-byte file."""
    folder = tmp_path_factory.mktemp("batch_videos")
    for v in batch_videos(trained_on_sample):
        shutil.copy2(sample_corpus / v["files"]["video"], folder / Path(v["files"]["video"]).name)
    (folder / "awkward").mkdir()
    for name in ("video_only.mp4", "zero_bytes.mp4"):
        shutil.copy2(sample_corpus / "awkward" / name, folder / "awkward" / name)
    return folder


@pytest.fixture(scope="module")
def first_batch(trained_on_sample, batch_folder, tmp_path_factory):
    from tests.conftest import compose_config

    root = tmp_path_factory.mktemp("batch_run")
    out = root / "predictions"
    code, summary = _batch(lambda *o: compose_config(list(o), root), trained_on_sample, batch_folder, out,
                           root / "run1")
    return {"code": code, "summary": summary, "out": out, "root": root}


@pytest.mark.slow
def test_batch_writes_one_set_per_video_and_records_the_failure(first_batch, trained_on_sample, batch_folder):
    out, summary = first_batch["out"], first_batch["summary"]
    assert first_batch["code"] == EXIT_ITEMS_FAILED  # the zero-byte file, and only it
    good = sorted([Path(v["files"]["video"]).stem for v in batch_videos(trained_on_sample)] + ["video_only"])
    assert summary["videos"] == 4 and summary["done"] == 3 and summary["failed"] == 1 and summary["skipped"] == 0
    for vid in good:
        for suffix in OUTPUTS:
            assert (out / f"{id_to_filename(vid)}{suffix}").is_file(), (vid, suffix)
        doc = json.loads((out / f"{vid}.chapters.json").read_text())
        lines = (out / f"{vid}.youtube.txt").read_text().splitlines()
        assert len(lines) == len(doc["chapters"])
        assert (out / f"{vid}.chapters.vtt").read_text().startswith("WEBVTT")
        mark = json.loads((out / f"{vid}{MARK_SUFFIX}").read_text())
        assert mark["fingerprint"] == summary["fingerprint"] and mark["chapters"] == len(doc["chapters"])
    assert not any(out.glob("zero_bytes*"))  # nothing half-written for the failed video
    rows = {r["video_id"]: r for r in _journal_rows(out)}
    assert sorted(rows) == sorted(good + ["zero_bytes"])
    assert rows["zero_bytes"]["status"] == "failed" and "empty file" in rows["zero_bytes"]["reason"]
    assert all(rows[v]["status"] == "done" for v in good)
    table = {e["video_id"]: e for e in summary["table"]}
    assert table["zero_bytes"]["status"] == "failed" and summary["failures"][0]["video_id"] == "zero_bytes"
    assert table["video_only"]["status"] == "done"  # no audio stream: predicted from the frames, not a failure
    assert any("no audio stream" in n for n in table["video_only"]["notes"]) and summary["frames_only"] >= 1
    printed = format_report(summary, 0, 1)
    assert "3 done, 0 skipped" in printed and "zero_bytes" in printed and "empty file" in printed


@pytest.mark.slow
def test_batch_rerun_skips_everything(first_batch, make_cfg, trained_on_sample, batch_folder, tmp_path,
                                      monkeypatch, capsys):
    from videolang.predict import ChapterPredictor

    def no_model(*args, **kwargs):
        raise AssertionError("a re-run of a finished batch must not load the model")

    monkeypatch.setattr(ChapterPredictor, "from_checkpoint", classmethod(no_model))
    out = first_batch["out"]
    before = _files(out)
    code, summary = _batch(make_cfg, trained_on_sample, batch_folder, out, tmp_path / "run2")
    assert code == EXIT_ITEMS_FAILED  # the zero-byte file failed before and was not retried: still failed
    assert _files(out) == before  # outputs byte for byte, journal not grown
    assert summary["done"] == 0 and summary["skipped"] == 3 and summary["failed"] == summary["failed_before"] == 1
    printed = capsys.readouterr().out
    assert "3 skipped (already complete)" in printed and "failed before" in printed
    # without the broken file in the list: nothing failed, exit 0 (a list file of the others)
    listing = tmp_path / "good.txt"
    listing.write_text("".join(f"{p}\n" for p in sorted(batch_folder.rglob("*.mp4")) if p.stem != "zero_bytes"))
    code, summary = _batch(make_cfg, trained_on_sample, listing, out, tmp_path / "run3")
    assert code == EXIT_OK and summary["skipped"] == 3 and summary["failed"] == 0
    assert _files(out) == before


@pytest.mark.slow
def test_batch_shards_partition_the_list(first_batch, make_cfg, trained_on_sample, batch_folder, tmp_path):
    listed = [it.video_id for it in list_videos(batch_folder, ("mp4",))]
    seen = []
    for index in range(2):
        code, summary = _batch(make_cfg, trained_on_sample, batch_folder, first_batch["out"], tmp_path / f"s{index}",
                               f"shard={index}", "num_shards=2")
        ids = [e["video_id"] for e in summary["table"]]
        assert ids == [it.video_id for it in shard(list_videos(batch_folder, ("mp4",)), index, 2)]  # as extract
        assert code == (EXIT_ITEMS_FAILED if "zero_bytes" in ids else EXIT_OK)
        seen += ids
    assert sorted(seen) == sorted(listed) and len(seen) == len(set(seen))


@pytest.mark.slow
def test_batch_retry_failed_and_incomplete_outputs(first_batch, make_cfg, trained_on_sample, batch_folder,
                                                   tmp_path):
    out = first_batch["out"]
    victim = sorted(Path(v["files"]["video"]).stem for v in batch_videos(trained_on_sample))[0]
    (out / f"{victim}.youtube.txt").unlink()  # an incomplete set of outputs is redone
    rows_before = len(_journal_rows(out))
    code, summary = _batch(make_cfg, trained_on_sample, batch_folder, out, tmp_path / "retry", "retry_failed=true")
    assert code == EXIT_ITEMS_FAILED
    table = {e["video_id"]: e["status"] for e in summary["table"]}
    assert table == {**{v: "skipped" for v in table}, victim: "done", "zero_bytes": "failed"}
    new_rows = _journal_rows(out)[rows_before:]
    assert sorted(r["video_id"] for r in new_rows) == sorted([victim, "zero_bytes"])
    assert (out / f"{victim}.youtube.txt").is_file()


@pytest.mark.slow
def test_batch_video_without_audio_exits_0(make_cfg, trained_on_sample, batch_folder, tmp_path):
    code, summary = _batch(make_cfg, trained_on_sample, batch_folder / "awkward" / "video_only.mp4",
                           tmp_path / "out", tmp_path / "run")
    assert code == EXIT_OK and summary["done"] == 1 and summary["failed"] == 0
    assert (tmp_path / "out" / "video_only.chapters.json").is_file()


@pytest.mark.slow
def test_batch_two_processes_split_the_work(make_cfg, trained_on_sample, batch_folder, tmp_path):
    """trainer=ddp_sim (two CPU processes): each video predicted by one rank, each rank its own journal."""
    videos = []
    for name in ("clip_a", "clip_b"):  # two short clips (copies of the silent one): the test is about the split
        videos.append(tmp_path / "videos" / f"{name}.mp4")
        videos[-1].parent.mkdir(exist_ok=True)
        shutil.copy2(batch_folder / "awkward" / "video_only.mp4", videos[-1])
    out = tmp_path / "out"
    code, summary = _batch(make_cfg, trained_on_sample, tmp_path / "videos", out, tmp_path / "run", "trainer=ddp_sim")
    assert code == EXIT_OK and summary["done"] == 2
    journals = sorted(p.name for p in (out / JOURNAL_DIR).glob("*.jsonl"))
    assert journals == ["shard0of1-rank0of2.jsonl", "shard0of1-rank1of2.jsonl"]
    owners = {}
    for path in sorted((out / JOURNAL_DIR).glob("*.jsonl")):
        for line in path.read_text().splitlines():
            assert owners.setdefault(json.loads(line)["video_id"], path.name) == path.name  # one writer per video
    assert sorted(owners) == ["clip_a", "clip_b"]
    marks = [json.loads((out / f"{p.stem}{MARK_SUFFIX}").read_text()) for p in videos]
    assert {m["fingerprint"] for m in marks} == {summary["fingerprint"]}


# ---- fast: no model ------------------------------------------------------------------------------------------
def test_debris_of_owned_videos_only_is_removed(tmp_path):
    from videolang.core.io import atomic_path
    from videolang.predict.batch import remove_debris

    mine, other = tmp_path / ".a.tmp.chapters.json.k3j_x.tmp.json", tmp_path / ".b.youtube.txt.q9z.tmp.txt"
    for p in (mine, other, tmp_path / "a.tmp.chapters.json", tmp_path / ".hidden"):
        p.write_text("x")
    assert remove_debris(tmp_path, {"a.tmp"}) == 1
    assert not mine.exists() and other.exists() and (tmp_path / "a.tmp.chapters.json").exists()
    with atomic_path(tmp_path / "c.chapters.vtt") as tmp:  # the real temporary-name scheme
        assert remove_debris(tmp_path, {"c"}) == 1 and not tmp.exists()
        tmp.write_text("x")  # re-created so the context manager can rename it


@pytest.mark.parametrize("preset,several", [("cpu", False), ("gpu", False), ("ddp", True), ("ddp_sim", True)])
def test_which_trainers_run_several_processes(make_cfg, preset, several):
    from videolang.predict.batch import wants_several_processes

    cfg = make_cfg("stage=predict", "videos=x", "ckpt=y", f"trainer={preset}")
    assert wants_several_processes(cfg.trainer) is several


def test_report_table_lists_statuses_and_reasons():
    report = {"videos": 3, "done": 1, "skipped": 1, "failed": 1, "failed_before": 1, "frames_only": 1,
              "out_dir": "/o", "table_rows_left_out": 0,
              "table": [{"video_id": "a", "status": "done", "chapters": 1, "notes": ["no speech in this video: x"],
                         "seconds": 1.25},
                        {"video_id": "b", "status": "skipped", "chapters": 4, "notes": [], "seconds": None},
                        {"video_id": "c", "status": "failed before", "reason": "empty file (0 bytes)",
                         "seconds": None}]}
    text = format_report(report, 0, 1)
    assert "1 done, 1 skipped (already complete), 0 failed, 1 failed before (not retried)" in text
    assert "1 chapter (frames only)" in text and "4 chapters" in text and "empty file (0 bytes)" in text
    assert "retry_failed=true" in text
