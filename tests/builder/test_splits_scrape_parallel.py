"""Split stability, the scraper seam (offline), and the bounded parallel map."""
from __future__ import annotations

import json
import os

import pytest

from tests.builder.conftest import read_table
from videolang.builder.parallel import bounded_map
from videolang.builder.scrape import SavedInfoFetcher, Scraper, read_inputs, video_id_from
from videolang.builder.splits import SplitAssigner, hash_unit
from videolang.core.errors import BadInputError, ConfigError


def test_hash_splits_are_stable_when_the_corpus_grows():
    assigner = SplitAssigner.from_mapping({"fractions": {"val": 0.1, "test": 0.1}})
    small = {f"vid{i:08d}": assigner.assign(f"vid{i:08d}") for i in range(2000)}
    grown = {f"vid{i:08d}": assigner.assign(f"vid{i:08d}") for i in range(20000)}
    assert all(grown[k] == v for k, v in small.items())
    share = sum(v == "val" for v in grown.values()) / len(grown)
    assert 0.09 < share < 0.11
    other_salt = SplitAssigner.from_mapping({"fractions": {"val": 0.1, "test": 0.1}, "salt": "other"})
    assert any(other_salt.assign(k) != v for k, v in small.items())
    assert 0 <= hash_unit("x", "s") < 1


def test_split_files_and_bad_split_config(tmp_path):
    (tmp_path / "val.json").write_text(json.dumps(["a", "b"]))
    (tmp_path / "test.txt").write_text("c\n\nd\n")
    assigner = SplitAssigner.from_mapping({"method": "files", "files": {"val": str(tmp_path / "val.json"),
                                                                        "test": str(tmp_path / "test.txt")}})
    assert [assigner.assign(x) for x in "abcde"] == ["val", "val", "test", "test", "train"]
    with pytest.raises(ConfigError):
        SplitAssigner.from_mapping({"fractions": {"val": 0.7, "test": 0.7}})
    with pytest.raises(ConfigError):
        SplitAssigner.from_mapping({"method": "files"})
    with pytest.raises(BadInputError, match="not found"):
        SplitAssigner.from_mapping({"method": "files", "files": {"val": str(tmp_path / "missing.json")}})


def test_bounded_map_keeps_order_and_reads_ahead_only_a_little():
    consumed = []

    def items():
        for i in range(50):
            consumed.append(i)
            yield i

    results = bounded_map(abs, items(), workers=2, max_in_flight=4)
    first = next(results)
    assert first == 0 and len(consumed) <= 5
    assert [first, *results] == list(range(50))
    assert list(bounded_map(abs, [-1, -2], workers=1)) == [1, 2]


def _saved(folder, vid, **extra):
    folder.mkdir(parents=True, exist_ok=True)
    info = {"id": vid, "title": f"Video {vid}", "duration": 120, "extractor": "youtube", "extractor_key": "Youtube",
            "webpage_url": f"https://www.youtube.com/watch?v={vid}",
            "description": "0:00 Intro\n0:40 Middle\n1:20 End", **extra}
    (folder / f"{vid}.info.json").write_text(json.dumps(info))


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


def test_scraper_rate_limits_resumes_and_records_failures(tmp_path):
    cache = tmp_path / "cache"
    _saved(cache, "aaaaaaaaaaa")
    _saved(cache, "bbbbbbbbbbb")
    calls = []
    offline = SavedInfoFetcher(str(cache))

    def fetch(url):
        calls.append(url)
        return offline(url)

    clock = FakeClock()
    scraper = Scraper(str(tmp_path / "out"), fetch, min_interval_s=2.0, sleep=clock.sleep, clock=clock.clock)
    inputs = ["aaaaaaaaaaa", "https://youtu.be/bbbbbbbbbbb", "ccccccccccc"]
    summary = scraper.run(inputs)
    assert summary["fetched"] == 2 and summary["skipped"] == 0
    assert [f.item for f in summary["failures"]] == ["ccccccccccc"] and "unavailable" in summary["failures"][0].reason
    assert clock.sleeps == [2.0, 2.0]  # one request per 2 s
    assert json.loads((tmp_path / "out" / "failures.json").read_text())[0]["item"] == "ccccccccccc"
    calls.clear()
    again = scraper.run(inputs)  # resume: only the failed one is tried again
    assert again["skipped"] == 2 and calls == ["https://www.youtube.com/watch?v=ccccccccccc"]


def test_saved_info_goes_through_yt_dlp_processing(tmp_path):
    _saved(tmp_path, "ddddddddddd", chapters=[{"start_time": 0, "end_time": 40, "title": "Intro"}])
    info = SavedInfoFetcher(str(tmp_path))("https://www.youtube.com/watch?v=ddddddddddd&t=3")
    assert info["id"] == "ddddddddddd" and info["chapters"][0]["title"] == "Intro"
    assert info["duration_string"] == "2:00"  # added by yt-dlp's own processing


def test_id_list_parsing(tmp_path):
    f = tmp_path / "ids.txt"
    f.write_text("# my list\ndQw4w9WgXcQ\n\nhttps://www.youtube.com/watch?v=dQw4w9WgXcQ\n"
                 "https://youtube.com/shorts/abcdefghijk # a short\nnot an id\ndQw4w9WgXcQ\n")
    items = read_inputs(f)
    assert items == ["dQw4w9WgXcQ", "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
                     "https://youtube.com/shorts/abcdefghijk # a short", "not an id"]
    assert [video_id_from(x) for x in items] == ["dQw4w9WgXcQ", "dQw4w9WgXcQ", "abcdefghijk", None]
    with pytest.raises(BadInputError):
        read_inputs(tmp_path / "missing.txt")


def test_scrape_dataset_end_to_end_offline(build, tmp_path):
    cache = tmp_path / "cache"
    _saved(cache, "aaaaaaaaaaa", chapters=[{"start_time": 0, "end_time": 60, "title": "From yt-dlp"},
                                           {"start_time": 60, "end_time": 120, "title": "Second"}])
    _saved(cache, "bbbbbbbbbbb")
    ids = tmp_path / "ids.txt"
    ids.write_text("aaaaaaaaaaa\nbbbbbbbbbbb\nzzzzzzzzzzz\n")
    summary, out, code = build("data=scrape", f"data.reader.ids={ids}", f"data.reader.out_dir={tmp_path / 'scraped'}",
                               "data.reader.min_interval_s=0",
                               "+data.reader.fetcher._target_=videolang.builder.scrape.SavedInfoFetcher",
                               f"+data.reader.fetcher.folder={cache}", "stage.language.detect=false")
    assert code == 3 and summary["failed"] == 1  # zzzzzzzzzzz could not be fetched
    chapters = read_table(out / "chapters.parquet")
    titles = {(c["video_id"], c["title"]) for c in chapters}
    assert ("aaaaaaaaaaa", "From yt-dlp") in titles  # chapters_field first
    assert ("bbbbbbbbbbb", "Middle") in titles       # description fallback
    assert sorted(os.listdir(tmp_path / "scraped")) == ["aaaaaaaaaaa.info.json", "bbbbbbbbbbb.info.json", "failures.json"]


def test_parallel_build_equals_serial(build, builder_sample):
    _, out1, _ = build("data=sample", f"paths.sample_dir={builder_sample}", "stage.out_dir=${paths.data_dir}/one")
    _, out2, _ = build("data=sample", f"paths.sample_dir={builder_sample}", "stage.out_dir=${paths.data_dir}/two",
                       "stage.workers=2")
    for name in ("videos.parquet", "chapters.parquet"):
        one, two = read_table(out1 / name), read_table(out2 / name)
        for a, b in zip(one, two):
            assert {k: v for k, v in a.items() if k != "language_confidence"} == \
                {k: v for k, v in b.items() if k != "language_confidence"}, (a, b)
            assert a.get("language_confidence") == pytest.approx(b.get("language_confidence"), abs=1e-6)
        assert len(one) == len(two)
    for f in sorted((out1 / "tasks").iterdir()):
        assert f.read_bytes() == (out2 / "tasks" / f.name).read_bytes()
