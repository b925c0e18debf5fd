"""`stage.titles_spoken=false`: the sample corpus whose narration names no word of its chapter titles."""
from __future__ import annotations

import json
import re

import pytest

from tests.bad_inputs.harness import run_in_process
from videolang.sample.plan import (NARRATION_MARGIN, NARRATION_OFFSET, SampleParams, corpus_fingerprint,
                                   estimate_speech_seconds, plan_corpus)


def _stems(text: str) -> set[str]:
    """Snowball stems of the words, stop words of the titles out: the transcript-match baseline's view."""
    import Stemmer

    stem = Stemmer.Stemmer("english")
    return {stem.stemWord(w) for w in re.findall(r"[a-z]+", text.lower())} - {"the", "for", "a", "an", "of", "and"}


@pytest.mark.parametrize("params, fingerprint", [
    (SampleParams(), "f6baba793a5190b8"),
    (SampleParams(num_videos=4, seed=1234, width=160, height=120, fps=25, min_duration=20, max_duration=40), "23b7c34e3c054859"),
    (SampleParams(num_videos=2, seed=7, width=64, height=48, min_duration=20, max_duration=20, with_awkward=False),
     "af5b4d934c7afc53"),
], ids=["default", "fixture", "tiny"])
def test_the_default_corpus_keeps_its_fingerprint(params, fingerprint):
    """The fingerprints these corpora had before the option existed (cached corpora stay valid)."""
    assert corpus_fingerprint(params, plan_corpus(params)) == fingerprint
    unspoken = SampleParams(**{**params.__dict__, "titles_spoken": False})
    assert corpus_fingerprint(unspoken, plan_corpus(unspoken)) != fingerprint


def test_titles_are_not_spoken_and_everything_else_is_the_same():
    spoken, unspoken = (plan_corpus(SampleParams(num_videos=40, seed=5, titles_spoken=flag)) for flag in (True, False))
    said_own_title = 0
    for a, b in zip(spoken, unspoken):
        assert (a.id, a.duration, a.title) == (b.id, b.duration, b.title)
        assert [(c.start, c.end, c.title, c.background, [o.name for o in c.objects]) for c in a.chapters] == \
               [(c.start, c.end, c.title, c.background, [o.name for o in c.objects]) for c in b.chapters]
        titles = set().union(*(_stems(c.title) for c in b.chapters))
        for ca, cb in zip(a.chapters, b.chapters):
            said_own_title += bool(_stems(ca.title) & _stems(ca.narration))
            assert not titles & _stems(cb.narration), (cb.title, cb.narration)
            assert NARRATION_OFFSET + estimate_speech_seconds(cb.narration) + NARRATION_MARGIN <= cb.end - cb.start
            assert cb.narration.strip()
    assert said_own_title >= 0.9 * sum(len(p.chapters) for p in spoken)  # the default says them


def test_the_stage_makes_the_variant(tmp_path, capfd):
    out = tmp_path / "sample"
    outcome = run_in_process(["stage=make_sample", f"paths.sample_dir={out}", f"paths.log_dir={tmp_path / 'logs'}",
                              "stage.num_videos=1", "stage.width=64", "stage.height=48", "stage.fps=2",
                              "stage.max_duration=20", "stage.with_awkward=false", "stage.titles_spoken=false"], capfd)
    assert outcome.code == 0, outcome.output[-2000:]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["generator"]["params"]["titles_spoken"] is False
    video, = manifest["videos"]
    titles = set().union(*(_stems(c["title"]) for c in video["chapters"]))
    subtitles = (out / video["files"]["subtitles"]).read_text()
    assert subtitles.strip() and not titles & _stems(subtitles)
