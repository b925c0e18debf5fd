"""The common-sense chain on the sample corpus, run once per module that asks for it:

build_dataset -> extract (tiny visual + ground-truth regions) -> train task=commonsense -> extract commonsense.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from omegaconf import open_dict

from videolang.run import EXIT_OK, run_stage

# every split reads all four fixture videos: the chain needs frames in train, val and test
ALL_SPLITS = "{train: train, val: train, test: train}"


def run_into(overrides: list[str], out_dir: Path) -> dict:
    """Compose and run one stage writing into `out_dir`; its summary.json."""
    from tests.conftest import compose_config

    cfg = compose_config(overrides, out_dir)
    with open_dict(cfg):
        cfg.paths.output_dir = str(out_dir)
    assert run_stage(cfg) == EXIT_OK, overrides[:2]
    return json.loads((out_dir / "summary.json").read_text())


@pytest.fixture(scope="session")
def commonsense_chain(sample_corpus, zoo, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("commonsense_chain")
    common = [f"paths.sample_dir={sample_corpus}", f"paths.model_dir={zoo['tiny-clip'].parent}",
              f"paths.data_dir={root / 'data'}", f"paths.feature_dir={root / 'features'}"]
    no_audio = ["~extractor.extractors.audio", "~extractor.extractors.audio_mel", "~extractor.extractors.speech"]
    run_into(["stage=build_dataset", "data=sample", "data.splits.fractions={val: 0.0, test: 0.0}", *common],
             root / "build")
    regions = run_into(["stage=extract", "extractor=tiny_regions", f"videos={sample_corpus / 'videos'}",
                        *no_audio, *common], root / "extract_regions")
    # 3 epochs at twice the experiment's learning rate, validated once at the end: the context predictor
    # clears the class prior by a wide margin (test_chain), in less time than validating every epoch
    train = run_into(["stage=train", "experiment=sample_commonsense", *common, "trainer.max_epochs=3",
                      "trainer.check_val_every_n_epoch=3", "model.optimizer.lr=4e-3",
                      f"task.datamodule.splits={ALL_SPLITS}", "+trainer.enable_progress_bar=false"],
                     root / "train_commonsense")
    ckpt = Path(train["best_checkpoint"] or train["last_checkpoint"])
    features = run_into(["stage=extract", "extractor=tiny_commonsense", f"videos={sample_corpus / 'videos'}",
                         f"extractor.extractors.commonsense.checkpoint={ckpt}", *no_audio, *common],
                        root / "extract_commonsense")
    return {"root": root, "common": common, "no_audio": no_audio, "regions": regions, "train": train,
            "ckpt": ckpt, "features": features, "feature_dir": root / "features", "sample": sample_corpus,
            "model_dir": zoo["tiny-clip"].parent}
