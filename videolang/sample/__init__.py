"""The deterministic sample corpus: real H.264/AAC videos with chapters, narration and metadata.

`make_sample_corpus(out_dir, ...)` writes (or confirms) the corpus described in
docs/sample.md; `load_manifest(out_dir)` reads its ground truth;
`synthesize_speech(text, path)` is the espeak-ng narration voice on its own.
"""
from videolang.sample.corpus import SampleReport, load_manifest, make_sample_corpus
from videolang.sample.narration import synthesize_speech

__all__ = ["SampleReport", "load_manifest", "make_sample_corpus", "synthesize_speech"]
