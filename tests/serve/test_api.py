"""The viewer's API without a browser: Range requests, the bad-input table, refused paths, uploads cleaned up,
wrong-task checkpoints, per-video scores that add up to the evaluator's set scores."""
from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.serve.conftest import make_viewer, serve_overrides, wait_loaded
from videolang.serve import browse_table, create_app
from videolang.serve.library import VideoEntry

pytestmark = pytest.mark.xdist_group("serve")  # one worker: the built dataset and encodings are shared


@pytest.fixture(scope="module")
def api(built_sample, sample_corpus, trained_on_sample, tmp_path_factory):
    """A viewer with the chapter checkpoint given as the grounding one (the wrong task) and no VideoQA one."""
    tmp = tmp_path_factory.mktemp("serve_api")
    viewer = make_viewer(tmp, serve_overrides(built_sample, sample_corpus, trained_on_sample["model_dir"],
                                              f"chapters_ckpt={trained_on_sample['ckpt']}",
                                              f"grounding_ckpt={trained_on_sample['ckpt']}"))
    wait_loaded(viewer)
    with TestClient(create_app(viewer)) as client:
        yield client, viewer
    viewer.close()


def test_the_page_and_its_assets_are_local(api):
    client, _ = api
    page = client.get("/").text
    assert "/static/viewer.js" in page and "/static/viewer.css" in page
    for asset in ("/", "/static/viewer.js", "/static/viewer.css"):
        text = client.get(asset).text
        assert "http://" not in text and "https://" not in text, asset  # nothing from a CDN
    assert client.get("/docs").status_code == 404 and client.get("/openapi.json").status_code == 404


def test_dataset_videos_with_true_chapters_transcript_and_questions(api, sample_manifest):
    client, _ = api
    listed = {v["id"]: v for v in client.get("/api/videos").json()}
    truth = {v["id"]: v for v in sample_manifest["videos"]}
    assert set(listed) == set(truth)
    vid = sorted(truth)[0]
    details = client.get(f"/api/videos/{vid}").json()
    assert [c["title"] for c in details["chapters"]] == [c["title"] for c in truth[vid]["chapters"]]
    assert [c["start"] for c in details["chapters"]] == pytest.approx([c["start"] for c in truth[vid]["chapters"]])
    assert details["transcript"] and all(c["end"] >= c["start"] for c in details["transcript"])
    assert details["questions"] and all(len(q["answers"]) >= 2 for q in details["questions"])


def test_media_answers_range_requests_so_the_player_can_seek(api, sample_corpus):
    client, viewer = api
    vid = sorted(viewer.library.videos)[0]
    data = viewer.library.videos[vid].path.read_bytes()
    whole = client.get(f"/media/{vid}")
    assert whole.status_code == 200 and whole.content == data and whole.headers["accept-ranges"] == "bytes"
    part = client.get(f"/media/{vid}", headers={"Range": "bytes=100-1099"})
    assert part.status_code == 206 and part.content == data[100:1100]
    assert part.headers["content-range"] == f"bytes 100-1099/{len(data)}"


def test_bad_inputs_are_messages_and_the_server_keeps_serving(api, sample_corpus, tmp_path):
    client, viewer = api
    vid = sorted(viewer.library.videos)[0]
    awkward = sample_corpus / "awkward"
    cases = [  # (request, status, words in the message)
        (lambda: client.get("/api/videos/no_such_video"), 404, "unknown video id"),
        (lambda: client.get("/media/no_such_video"), 404, "unknown video id"),
        (lambda: client.get("/media/..%2F..%2Fetc%2Fpasswd"), 404, "Not Found"),
        (lambda: client.post(f"/api/videos/{vid}/ground", content=b"{not json"), 400, "malformed request"),
        (lambda: client.post("/api/upload"), 400, "malformed request"),
        (lambda: client.post("/api/videos/no_such_video/chapters"), 404, "unknown video id"),
        (lambda: client.post(f"/api/videos/{vid}/ground", json={"query": "   "}), 400, "empty query"),
        (lambda: client.post(f"/api/videos/{vid}/ground", json={"query": "x" * 501}), 400, "longer than"),
        (lambda: client.post(f"/api/videos/{vid}/ask", json={"question": "", "answers": ["a", "b"]}), 400,
         "empty question"),
        (lambda: client.post(f"/api/videos/{vid}/ask", json={"question": "q", "answers": ["a", " "]}), 400,
         "at least two"),
        (lambda: client.post(f"/api/videos/{vid}/ask", json={"question": "q", "answers": ["a", "b"], "ts": "soon"}),
         400, "not a span"),
        (lambda: client.post(f"/api/videos/{vid}/ask", json={"question": "q", "answers": ["a", "b"]}), 409,
         "no videoqa checkpoint"),
        (lambda: client.get("/api/jobs/nope"), 404, "unknown job"),
        (lambda: client.get("/api/browse"), 404, "no predictions file"),
        (lambda: client.get(f"/api/videos/{vid}/chapters.vtt"), 404, "no chapters predicted yet"),
    ]
    for name in ("not_a_video.mp4", "zero_bytes.mp4", "truncated_no_moov.mp4", "audio_only.m4a"):
        files = {"file": (name, (awkward / name).read_bytes(), "video/mp4")}
        cases.append((lambda files=files: client.post("/api/upload", files=files), 400, "not a usable video"))
    for request, status, words in cases:
        response = request()
        assert response.status_code == status, (words, response.text)
        assert words in response.json()["error"], response.json()
    assert not list(viewer.library.upload_dir.iterdir())  # refused uploads are not kept
    assert client.get("/api/info").status_code == 200


def test_a_checkpoint_of_the_wrong_task_is_a_message(api):
    client, viewer = api
    info = client.get("/api/info").json()["models"]
    assert info["chapters"]["state"] == "ready"
    assert info["grounding"]["state"] == "error" and "no head that predicts time windows" in info["grounding"]["message"]
    vid = sorted(viewer.library.videos)[0]
    response = client.post(f"/api/videos/{vid}/ground", json={"query": "the intro"})
    assert response.status_code == 409 and "no head that predicts time windows" in response.json()["error"]


def test_paths_outside_the_configured_folders_are_refused(api, tmp_path):
    client, viewer = api
    outside = tmp_path / "secret.mp4"
    outside.write_bytes(b"secret")
    viewer.library.videos["row_elsewhere"] = VideoEntry("row_elsewhere", outside, "dataset")
    link = viewer.library.upload_dir / "upload-link.mp4"  # a link inside the upload folder pointing out of it
    os.symlink(outside, link)
    viewer.library.videos["upload-link"] = VideoEntry("upload-link", link, "upload")
    try:
        for vid in ("row_elsewhere", "upload-link"):
            for response in (client.get(f"/media/{vid}"), client.post(f"/api/videos/{vid}/chapters")):
                assert response.status_code == 403 and "refused" in response.json()["error"]
                assert "secret" not in response.text.replace(str(outside), "")
    finally:
        del viewer.library.videos["row_elsewhere"], viewer.library.videos["upload-link"]
        link.unlink()


def test_uploads_are_kept_in_a_temporary_folder_removed_on_close(built_sample, sample_corpus, trained_on_sample,
                                                                 tmp_path):
    viewer = make_viewer(tmp_path, serve_overrides(built_sample, sample_corpus, trained_on_sample["model_dir"],
                                                   f"stage.upload_dir={tmp_path / 'uploads'}"))
    client = TestClient(create_app(viewer))
    video = next((sample_corpus / "videos").glob("*.mp4"))
    entry = client.post("/api/upload", files={"file": ("my talk.mp4", io.BytesIO(video.read_bytes()),
                                                       "video/mp4")}).json()
    assert entry["id"].startswith("upload-") and entry["source"] == "upload" and entry["title"] == "my talk.mp4"
    assert entry["duration"] == pytest.approx(float(next(v for v in sample_manifest_videos(sample_corpus)
                                                         if v["id"] == video.stem)["duration"]), abs=0.1)
    kept = viewer.library.videos[entry["id"]].path
    assert kept.parent.parent == tmp_path / "uploads" and kept.read_bytes() == video.read_bytes()
    assert client.get(f"/media/{entry['id']}").content == video.read_bytes()
    assert client.post(f"/api/videos/{entry['id']}/chapters").status_code == 409  # no chapter checkpoint given
    viewer.close()
    assert not kept.parent.exists() and (tmp_path / "uploads").is_dir()  # our folder gone, the given one kept


def sample_manifest_videos(corpus: Path) -> list[dict]:
    from videolang.sample import load_manifest

    return load_manifest(corpus)["videos"]


def _only(folder: Path, pattern: str) -> Path:
    found = sorted(folder.glob(pattern))
    assert len(found) == 1, (folder, pattern, found)
    return found[0]


def test_per_video_scores_average_to_the_set_scores(grounding_ckpt, videoqa_ckpt):
    """Grounding and VideoQA rows average (weighted by queries / questions) to the set score the train stage's
    test run wrote for the same predictions (metrics_test.json); the chapter table is checked in
    test_browser.py, where the running viewer has scored it already."""
    for ckpt, task, metric, logged in ((grounding_ckpt, "grounding", "r1@0.5", "test/r1_0.5"),
                                       (videoqa_ckpt, "videoqa", "accuracy", "test/accuracy")):
        table = browse_table(_only(ckpt["run"], "predictions_test.jsonl"), ckpt["references"])
        whole = json.loads((ckpt["run"] / "metrics_test.json").read_text())
        count = "queries" if task == "grounding" else "questions"
        weighted = sum(r[metric] * r[count] for r in table.rows) / sum(r[count] for r in table.rows)
        assert table.task == task and weighted == pytest.approx(whole[logged], abs=1e-6)
        assert set(table.items) == {r["video_id"] for r in table.rows}
