"""The fixture corpus is valid media whose content agrees with its manifest and metadata."""
from __future__ import annotations

import json

import av
import decord
import numpy as np
import pytest

from tests.fixtures.sample import SAMPLE_FIXTURE_PARAMS
from tests.sample.media import decode_audio, hex_rgb, rms, vidchapters_oracle
from videolang.sample.corpus import sha256_of
from videolang.sample.plan import DESCRIPTION_STYLES, MIN_CHAPTER_SECONDS

FPS = SAMPLE_FIXTURE_PARAMS["fps"]


def videos(manifest):
    assert len(manifest["videos"]) == SAMPLE_FIXTURE_PARAMS["num_videos"]
    return manifest["videos"]


def test_layout_and_file_records(sample_corpus, sample_manifest):
    assert sample_manifest["generator"]["params"] == SAMPLE_FIXTURE_PARAMS
    for video in videos(sample_manifest):
        assert set(video["files"]) == {"video", "info_json", "description", "boxes", "questions", "subtitles"}
        assert video["files"]["video"] == f"videos/{video['id']}.mp4"
    listed = set(sample_manifest["files"])
    on_disk = {p.relative_to(sample_corpus).as_posix() for p in sample_corpus.rglob("*") if p.is_file()}
    assert on_disk == listed | {"manifest.json"}, "no temporary or stray files"
    for rel, record in sample_manifest["files"].items():
        path = sample_corpus / rel
        assert path.stat().st_size == record["size"] and sha256_of(path) == record["sha256"]


def test_question_and_subtitle_sidecars_agree_with_the_manifest(sample_corpus, sample_manifest):
    """`<id>.qa.jsonl` holds the planned questions; `<id>.srt` the narration, one cue per sentence,
    inside each chapter's measured narration span."""
    from videolang.builder.srt import read_srt
    from videolang.sample.plan import SampleParams, plan_corpus
    from videolang.sample.questions import plan_questions, sentences

    plans = {p.id: p for p in plan_corpus(SampleParams(**SAMPLE_FIXTURE_PARAMS))}
    for video in videos(sample_manifest):
        rows = [json.loads(x) for x in (sample_corpus / video["files"]["questions"]).read_text().splitlines()]
        assert rows and rows == plan_questions(plans[video["id"]])
        cues = read_srt(sample_corpus / video["files"]["subtitles"])
        assert [c["text"] for c in cues] == [s for c in video["chapters"] for s in sentences(c["narration"])]
        for c in video["chapters"]:
            inside = [q for q in cues if c["start"] <= q["start"] < c["end"]]
            assert inside[0]["start"] == pytest.approx(c["narration_start"], abs=1e-3)
            assert inside[-1]["end"] == pytest.approx(c["narration_end"], abs=1e-3)


def test_chapters_tile_the_video_on_whole_seconds(sample_manifest):
    for video in videos(sample_manifest):
        duration, chapters = video["duration"], video["chapters"]
        assert SAMPLE_FIXTURE_PARAMS["min_duration"] <= duration <= SAMPLE_FIXTURE_PARAMS["max_duration"]
        assert 2 <= len(chapters) <= 6
        assert chapters[0]["start"] == 0 and chapters[-1]["end"] == duration
        for a, b in zip(chapters, chapters[1:]):
            assert a["end"] == b["start"]
        for c in chapters:
            assert isinstance(c["start"], int) and c["end"] - c["start"] >= MIN_CHAPTER_SECONDS
            assert c["start"] < c["narration_start"] < c["narration_end"] <= c["end"] - 0.5, c
        assert len({c["title"] for c in chapters}) == len(chapters)


def test_video_stream_matches_the_manifest_frame_for_frame(sample_corpus, sample_manifest):
    """decord decodes every video; frame count = duration * fps; each chapter's first and last
    frames show that chapter's background, and neighbouring chapters look different."""
    for video in videos(sample_manifest):
        reader = decord.VideoReader(str(sample_corpus / video["files"]["video"]))
        assert len(reader) == video["duration"] * FPS
        assert reader.get_avg_fps() == pytest.approx(FPS)
        frame_shape = (SAMPLE_FIXTURE_PARAMS["height"], SAMPLE_FIXTURE_PARAMS["width"], 3)
        means = []
        for c in video["chapters"]:
            first, middle, last = c["start"] * FPS, (c["start"] + c["end"]) * FPS // 2, c["end"] * FPS - 1
            frames = reader.get_batch([first, middle, last]).asnumpy().astype(np.float64)
            assert frames.shape[1:] == frame_shape
            background = hex_rgb(c["scene"]["background"])
            for frame in frames:
                median = np.median(frame.reshape(-1, 3), axis=0)
                assert np.abs(median - background).max() <= 8, (video["id"], c["title"])
            assert frames[0].std() > 5, "a shape is drawn over the background"
            means.append(frames[1].reshape(-1, 3).mean(axis=0))
        for a, b in zip(means, means[1:]):
            assert np.linalg.norm(a - b) > 15, f"neighbouring chapters of {video['id']} look alike"


def test_audio_track_has_narration_at_the_start_of_every_chapter(sample_corpus, sample_manifest):
    for video in videos(sample_manifest):
        path = sample_corpus / video["files"]["video"]
        with av.open(str(path)) as container:
            assert container.duration / 1e6 == pytest.approx(video["duration"], abs=1 / FPS)
            assert container.streams.video[0].codec_context.name == "h264"
            assert container.streams.audio[0].codec_context.name == "aac"
        samples, rate = decode_audio(path)
        assert len(samples) / rate == pytest.approx(video["duration"], abs=1 / FPS)
        for c in video["chapters"]:
            speech = rms(samples[int(c["narration_start"] * rate): int(c["narration_end"] * rate)])
            after = rms(samples[int((c["narration_end"] + 0.3) * rate): int((c["end"] - 0.1) * rate)])
            before = rms(samples[int((c["start"] + 0.06) * rate): int((c["narration_start"] - 0.06) * rate)])
            assert speech > 0.03, (video["id"], c["title"], speech)
            assert speech > 4 * max(after, before), (video["id"], c["title"], speech, after, before)


def test_info_json_description_and_manifest_agree(sample_corpus, sample_manifest):
    styles = set()
    for video in videos(sample_manifest):
        info = json.loads((sample_corpus / video["files"]["info_json"]).read_text(encoding="utf-8"))
        description = (sample_corpus / video["files"]["description"]).read_text(encoding="utf-8")
        assert info["id"] == video["id"] and info["title"] == video["title"]
        assert info["duration"] == video["duration"] and info["language"] == "en"
        assert info["description"] == description
        for key in ("categories", "tags", "upload_date", "channel_id"):
            assert info[key], key
        assert [(c["start_time"], c["end_time"], c["title"]) for c in info["chapters"]] == \
            [(c["start"], c["end"], c["title"]) for c in video["chapters"]]
        assert vidchapters_oracle(description) == [(c["start"], c["title"]) for c in video["chapters"]]
        assert "http" in description and "16:9" in description and "#" in description
        styles.add(video["description_style"])
    assert len(styles) == len(videos(sample_manifest)), "each fixture video writes its chapter lines differently"
    assert styles <= set(DESCRIPTION_STYLES)


def test_builder_reference_parser_extracts_the_ground_truth(sample_corpus, sample_manifest):
    reference = pytest.importorskip("videolang.builder.reference")
    for video in videos(sample_manifest):
        description = (sample_corpus / video["files"]["description"]).read_text(encoding="utf-8")
        outcome = reference.parse_description(description)
        assert outcome.reason is None
        assert [(int(s), t) for s, t in outcome.chapters] == [(c["start"], c["title"]) for c in video["chapters"]]


def test_titles_follow_from_what_is_seen_and_said(sample_manifest):
    for video in videos(sample_manifest):
        for c in video["chapters"]:
            if c["kind"] == "topic":
                assert c["title"] == f"{c['action']} {c['thing']}"
                said = c["narration"].lower()
                assert c["thing"] in said and c["action"].lower()[:4] in said, c


@pytest.mark.parametrize("problem", ["truncated_no_index", "truncated_data", "no_audio_stream", "no_video_stream",
                                     "empty_file", "not_media"])
def test_awkward_files_fail_as_the_manifest_says(sample_corpus, sample_manifest, problem):
    (item,) = [a for a in sample_manifest["awkward"] if a["problem"] == problem]
    path = sample_corpus / item["file"]
    assert path.parent.name == "awkward" and path.is_file()
    if not item["opens"]:
        with pytest.raises(av.error.InvalidDataError):
            av.open(str(path)).close()
        with pytest.raises((RuntimeError, decord.DECORDError)):
            decord.VideoReader(str(path))
        if problem == "empty_file":
            assert path.stat().st_size == 0
        return
    with av.open(str(path)) as container:
        assert bool(container.streams.video) == item["has_video"]
        assert bool(container.streams.audio) == item["has_audio"]
        claimed = container.duration / 1e6
        decoded = sum(1 for _ in container.decode(video=0)) if item["has_video"] else 0
    if problem == "truncated_data":
        assert decoded < 0.6 * claimed * FPS, "the header promises more frames than the file holds"
    elif problem == "no_audio_stream":
        assert decoded == round(claimed * FPS)
        assert len(decord.VideoReader(str(path))) == decoded
    elif problem == "no_video_stream":
        samples, rate = decode_audio(path)
        assert rms(samples) > 0.01 and len(samples) / rate == pytest.approx(claimed, abs=0.1)
        with pytest.raises(decord.DECORDError):
            decord.VideoReader(str(path))
