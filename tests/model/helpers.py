"""Test-only pieces that configs can name by `_target_`."""
from __future__ import annotations

import lightning as L


class StopAfterEpochs(L.Callback):
    """Simulates an interrupted run: stops cleanly after `epochs` epochs, whatever max_epochs says."""

    def __init__(self, epochs: int = 1):
        self.epochs = epochs

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.current_epoch + 1 >= self.epochs:
            trainer.should_stop = True


# ---- stand-in extractors: what `stage=predict` rebuilds from a checkpoint's feature descriptions
from videolang.extract.base import Extractor  # noqa: E402


class FakeFrames(Extractor):
    """A frames extractor that is never run (build_encoder tests only build the Encoder)."""

    input = "frames"


class FakeRegions(FakeFrames):
    pass


class FakeCommonsense(Extractor):
    """Reads the `regions` state, like the real common-sense extractor."""

    input = None
    requires = ("regions",)


def extract_sample_videos(sample_corpus, videos: list[dict], model_dir, root) -> list[str]:
    """Tiny-zoo frames and transcripts of these sample videos into `root/features` (stage=extract,
    extractor=tiny without the audio keys); returns the path overrides that point a stage at them."""
    from tests.conftest import compose_config
    from videolang.run import EXIT_OK, run_stage

    listing = root / "videos.txt"
    listing.write_text("".join(f"{sample_corpus / v['files']['video']}\n" for v in videos))
    common = [f"paths.model_dir={model_dir}", f"paths.feature_dir={root / 'features'}",
              f"paths.data_dir={root / 'data'}"]
    cfg = compose_config(["stage=extract", "extractor=tiny", f"videos={listing}", "~extractor.extractors.audio",
                          "~extractor.extractors.audio_mel", *common], root / "extract")
    assert run_stage(cfg) == EXIT_OK
    return common
