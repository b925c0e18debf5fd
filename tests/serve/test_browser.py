"""The viewer in a real browser: Debian's chromium, headless, driven by Playwright (no browser download).

One server and one browser for the module, on the fixture corpus built as a dataset with the tiny chapter,
grounding and VideoQA checkpoints: pick a video and see its chapters, ask for a moment, ask a question, upload
a broken file, browse the chapter predictions, two browsers at once. Screenshots go to the test's folder;
`VIDEOLANG_VIEWER_SCREENSHOT=docs/img/viewer.png` also writes the README's picture (docs/serve.md).
"""
from __future__ import annotations

import json
import os
import shutil

import pytest

from tests.serve.conftest import make_viewer, running, serve_overrides

pytestmark = [pytest.mark.xdist_group("serve"), pytest.mark.usefixtures("encoding_cache")]  # not about encoding

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium")
TIMEOUT_MS = 120_000  # a video's first encoding (tiny CLIP + Whisper-base) on a busy 2-core machine


@pytest.fixture(scope="module")
def site(built_sample, sample_corpus, trained_on_sample, grounding_ckpt, videoqa_ckpt, tmp_path_factory):
    """The viewer on a free port (every checkpoint, the chapter predictions to browse) and a headless chromium."""
    if CHROMIUM is None:
        pytest.fail("chromium is not installed: `make setup` installs it (apt-get install chromium)")
    tmp = tmp_path_factory.mktemp("serve_browser")
    refs = trained_on_sample["root"] / "data" / "built" / "sample" / "tasks" / "dense_captioning_test.json"
    viewer = make_viewer(tmp, serve_overrides(
        built_sample, sample_corpus, trained_on_sample["model_dir"], f"chapters_ckpt={trained_on_sample['ckpt']}",
        f"grounding_ckpt={grounding_ckpt['ckpt']}", f"videoqa_ckpt={videoqa_ckpt['ckpt']}",
        f"predictions={trained_on_sample['run'] / 'predictions_test.json'}", f"references={refs}"))
    with running(viewer) as url, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield {"url": url, "browser": browser, "viewer": viewer, "shots": tmp}
        browser.close()


def open_page(site, width: int = 1400, height: int = 1000):
    page = site["browser"].new_page(viewport={"width": width, "height": height})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(site["url"])
    page.wait_for_selector("body[data-ready=true]")
    return page


def pick(page, vid: str) -> None:
    page.select_option("#video-select", vid)
    page.wait_for_selector("#row-predicted .seg")


def test_video_chapters_moment_and_question(site, sample_manifest):
    page = open_page(site)
    video = sorted(sample_manifest["videos"], key=lambda v: v["id"])[0]
    pick(page, video["id"])
    # the true chapters beside the predicted ones, both on the timeline; the transcript with its times
    assert page.locator("#row-true .seg").all_inner_texts() == [c["title"] for c in video["chapters"]]
    predicted = page.locator("#chapter-list li").count()
    assert predicted == page.locator("#row-predicted .seg").count() >= 1
    assert page.locator("#transcript li").count() >= len(video["chapters"])
    # the WebVTT chapters track holds one cue per predicted chapter
    page.wait_for_function("document.querySelector('#player').textTracks[0]?.cues?.length > 0")
    assert page.evaluate("document.querySelector('#player').textTracks[0].kind") == "chapters"
    assert page.evaluate("document.querySelector('#player').textTracks[0].cues.length") == predicted
    # click = seek: a true chapter, then a transcript line
    page.wait_for_function("document.querySelector('#player').readyState >= 1")
    last = video["chapters"][-1]
    page.locator("#true-list li").last.click()
    page.wait_for_function(f"Math.abs(document.querySelector('#player').currentTime - {last['start']}) < 0.5")
    cue = page.locator("#transcript li").nth(1)
    start = float(cue.get_attribute("data-start"))
    cue.click()
    page.wait_for_function(f"Math.abs(document.querySelector('#player').currentTime - {start}) < 0.5")

    # ask for a moment: ranked windows with scores on the timeline, the saliency curve
    page.fill("#query", video["chapters"][0]["title"])
    page.click("#ground-form button")
    page.wait_for_selector("#windows li")
    windows = page.locator("#windows li").all_inner_texts()
    assert windows and all("score" in w for w in windows)
    scores = [float(w.rsplit("score", 1)[1]) for w in windows]
    assert scores == sorted(scores, reverse=True)
    assert page.locator("#row-windows .seg").count() == len(windows)
    assert page.get_attribute("#row-saliency polyline", "points").count(",") >= 2
    page.locator("#row-windows .seg").first.click()  # play the best window: the player jumps to its start
    best = page.evaluate("+document.querySelector('#row-windows .seg').dataset.start")
    page.wait_for_function(f"Math.abs(document.querySelector('#player').currentTime - {best}) < 0.5")

    # ask a question of the dataset: one probability bar per answer, summing to 100%, its span highlighted
    page.select_option("#question-examples", "0")
    page.click("#ask-form button")
    page.wait_for_selector("#probabilities .bar-row")
    percents = [float(t.rstrip("%")) for t in page.locator("#probabilities .pct").all_inner_texts()]
    question = next(v for v in site["viewer"].library.videos.values() if v.id == video["id"]).questions[0]
    assert len(percents) == len(question["answers"]) and sum(percents) == pytest.approx(100, abs=0.5)
    assert page.locator("#probabilities .chosen").count() == 1
    if question["ts"]:
        assert page.locator("#row-span .seg").count() == 1
    page.evaluate("document.querySelector('#player').pause()")
    shot = site["shots"] / "viewer.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    if os.environ.get("VIDEOLANG_VIEWER_SCREENSHOT"):  # the README's picture (docs/serve.md)
        shutil.copyfile(shot, os.environ["VIDEOLANG_VIEWER_SCREENSHOT"])
    page.close()


def test_broken_upload_and_empty_query_are_messages_in_the_page(site, sample_corpus):
    page = open_page(site)
    page.set_input_files("#upload", str(sample_corpus / "awkward" / "not_a_video.mp4"))
    page.wait_for_selector("#messages .error")
    assert "not a usable video" in page.inner_text("#messages")
    page.screenshot(path=str(site["shots"] / "broken_upload.png"))
    page.select_option("#video-select", index=1)
    page.fill("#query", "  ")
    page.click("#ground-form button")
    page.wait_for_function("document.querySelector('#messages').innerText.includes('empty query')")
    assert page.evaluate("fetch('/api/info').then(r => r.status)") == 200  # still serving
    page.close()


def test_browse_sorts_worst_first_and_opens_the_video(site, trained_on_sample):
    page = open_page(site)
    page.wait_for_selector("#browse-table tbody tr")
    table = site["viewer"].browse
    rows = table.rows
    # each video's own scores: SODA_c averages to the set's (the train stage's test run on the same file)
    whole = json.loads((trained_on_sample["run"] / "metrics_test.json").read_text())
    assert table.task == "chapters" and len(rows) == len(trained_on_sample["videos"])
    assert sum(r["soda_c"] for r in rows) / len(rows) == pytest.approx(whole["test/soda_c"], abs=1e-6)
    for r in rows:  # F1@0.5 from the video's own P and R
        p, rc = r["precision@0.5"], r["recall@0.5"]
        assert r["f1@0.5"] == pytest.approx(2 * p * rc / (p + rc) if p + rc else 0.0)
    assert page.locator("#browse-table tbody tr").count() == len(rows)
    shown = [float(t) if t != "–" else None for t in page.locator("#browse-table tbody td:nth-child(2)").all_inner_texts()]
    assert shown == sorted(round(100 * r["soda_c"], 1) for r in rows)  # SODA_c, worst first
    page.click("#browse-table th[data-key='soda_c']")  # again: best first
    shown = [float(t) for t in page.locator("#browse-table tbody td:nth-child(2)").all_inner_texts()]
    assert shown == sorted(shown, reverse=True)
    first = page.locator("#browse-table tbody tr").first
    vid = first.get_attribute("data-vid")
    first.click()
    page.wait_for_function(f"document.querySelector('#video-select').value === {vid!r}")
    page.wait_for_selector("#browse-detail h3")
    assert vid in page.inner_text("#browse-detail h3")
    page.close()


def test_two_browsers_at_once(site, sample_manifest):
    """Two sessions ask at the same time (a moment in one, a question in the other): each gets its own answer."""
    vid = sorted(v["id"] for v in sample_manifest["videos"])[0]  # encoded by the first test: no second encoding
    pages = [site["browser"].new_context().new_page() for _ in range(2)]
    for page in pages:
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(site["url"])
        page.wait_for_selector("body[data-ready=true]")
        pick(page, vid)
    first, second = pages
    first.fill("#query", "the intro")
    second.select_option("#question-examples", "0")
    first.click("#ground-form button")  # both asked before either is answered
    second.click("#ask-form button")
    first.wait_for_selector("#windows li")
    second.wait_for_selector("#probabilities .bar-row")
    assert first.locator("#probabilities .bar-row").count() == 0 and second.locator("#windows li").count() == 0
    for page in pages:
        page.context.close()
