"""`stage=import_features`: features and transcripts others published, into the feature store.

    python -m videolang.run stage=import_features format=vidchapters_npy path=chapters_clipvitl14_features/
    python -m videolang.run stage=import_features format=vidchapters_pth path=YouCook2/clipvitl14.pth
    python -m videolang.run stage=import_features format=moment_detr_npz path=features/clip_features stage.key=clip
    python -m videolang.run stage=import_features format=vidchapters_asr path=AllChapters/asr.pkl
    python -m videolang.run stage=import_features format=npy path=feats/ stage.fps=2

Each video lands under `<key>/<fingerprint>/` like an extracted one: the fingerprint is
`<format>-<hash of the source path and the options>` and `extractor.json` names the source, so
train / evaluate read the features unchanged (their width inferred) and a checkpoint records where its
features came from. `stage.equivalent_extractor=<key of the extractor group>` declares which extractor
computes the same features from a raw video (`extractor=default`'s `visual` is CLIP ViT-L/14 at 1 fps,
VidChapters' own), so `stage=predict` on a raw video can rebuild it; without it, predict says the model
was trained on imported features. Done videos are skipped on a re-run; a video whose file cannot be used is
counted with its reason (exit 3) and nothing of it is written. Layouts: `videolang.store.published`.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from videolang.builder.media_ids import media_durations
from videolang.core.errors import BadInputError, ConfigError
from videolang.core.failures import FailureLog
from videolang.core.io import atomic_write_json, ensure_writable_dir, read_json
from videolang.core.options import flag, instantiate
from videolang.extract.encoder import Encoder
from videolang.stages import StageResult
from videolang.store import FeatureRecord, FeatureStore, fingerprint_of
from videolang.store.published import DEFAULTS, Imported, read_published, row_rate, safe_feature_name

log = logging.getLogger(__name__)


def dataset_durations(dataset_dir: str | Path) -> dict[str, float]:
    """{id: duration} of a built dataset's media: its videos.parquet's `media_id`s (ViTT's entries `<k>_<id>` share
    the features of `<id>`), or else the keys of its dense-captioning task files."""
    folder = Path(dataset_dir)
    durations = media_durations(folder)
    if durations is not None:
        return durations
    files = sorted((folder / "tasks").glob("dense_captioning_*.json"))
    if not files:
        raise BadInputError("no videos.parquet and no tasks/dense_captioning_<split>.json to list the dataset's "
                            "videos", folder)
    out: dict[str, float] = {}
    for f in files:
        data = read_json(f, what="task file")
        out.update({str(v): float(e["duration"]) for v, e in data.items() if isinstance(e, dict)
                    and isinstance(e.get("duration"), (int, float))})
    return out


def equivalent_description(cfg: DictConfig, name: str, key: str) -> dict[str, Any]:
    """How `cfg.extractor.extractors[name]` (with `cfg.extractor.decode`) computes these features from a raw
    video: the fields `stage=predict` rebuilds an extractor from (class, config, input) and its fingerprint."""
    extractors = OmegaConf.select(cfg, "extractor.extractors") or {}
    if name not in extractors or not extractors[name]:
        raise ConfigError(f"stage.equivalent_extractor={name!r}: the extractor group has no such key "
                          f"(it has {', '.join(k for k, v in extractors.items() if v) or 'none'})")
    ext = instantiate(extractors[name], f"extractor.extractors.{name}")
    decode = OmegaConf.to_container(cfg.extractor.decode, resolve=True) if cfg.extractor.get("decode") else None
    desc = Encoder({key: ext}, decode=decode).describe(key)
    return {"class": desc["class"], "config": desc["config"], "input": desc["input"],
            "equivalent_fingerprint": desc["fingerprint"], "equivalent_model": desc["model"]}


@dataclass
class Importer:
    """Writes one source's videos into one store key: skips what is done, records what is unusable."""

    store: FeatureStore
    key: str
    fingerprint: str
    info: dict[str, Any]
    known: dict[str, float] | None = None
    overwrite: bool = False
    counts: Counter = field(default_factory=Counter)
    failures: FailureLog = field(default_factory=lambda: FailureLog("import_features"))
    width: int | None = None

    def __post_init__(self) -> None:
        self.journal = self.store.journal(f"import-{self.key}-{self.fingerprint}")

    def _row(self, vid: str, **fields: Any) -> None:
        self.journal.append([{"video_id": vid, "key": self.key, "fingerprint": self.fingerprint,
                              "model": self.info["model"], **fields}])

    def add(self, item: Imported, vid: str) -> None:
        """`item` stored as video `vid` (its own id, or a dataset id it stands for), or its problem recorded."""
        if not self.overwrite and self.store.is_valid(vid, self.key, self.fingerprint):
            self.counts["already_imported"] += 1
            return
        problem = item.problem
        if problem is None and item.array is not None:
            if self.width is None:
                self.width = int(item.array.shape[1])
            elif item.array.shape[1] != self.width:
                problem = f"features are {item.array.shape[1]} wide, the source's first video's {self.width}"
        if problem is not None:
            self.failures.record(vid, problem, item.source)
            self._row(vid, status="failed", reason=problem, path=item.source)
            return
        duration = self.known.get(vid) if self.known is not None else None
        segments = item.segments
        if segments is not None and duration is not None:  # VidChapters' loader: start >= 0 and end <= duration
            keep = [s >= 0 and e <= duration for s, e in zip(segments["start"], segments["end"])]
            self.counts["asr_sentences_outside_video_dropped"] += keep.count(False)
            segments = {**segments, **{k: [x for x, ok in zip(segments[k], keep) if ok]
                                       for k in ("text", "start", "end", "words")}}
        meta = {"source": item.source, **({"duration": duration} if duration is not None else {})}
        record = FeatureRecord(self.key, item.array, segments["start"] if segments is not None else item.timestamps,
                               item.fps, self.info["model"], self.fingerprint, segments=segments, meta=meta)
        written = self.store.write(vid, record)
        self._row(vid, status="done", n=len(record), path=str(written))
        self.counts["imported"] += 1


def run(cfg: DictConfig) -> StageResult:
    st = cfg.stage
    fmt, path = str(cfg.format), Path(str(cfg.path))
    if fmt not in DEFAULTS:
        raise ConfigError(f"format={fmt!r}: known formats are {', '.join(DEFAULTS)}")
    asr = fmt == "vidchapters_asr"
    key = str(st.key or ("speech" if asr else "visual"))
    fps = None if asr else row_rate(fmt, st.get("fps"), st.get("clip_length"))
    feature = safe_feature_name(str(st.feature)) if st.get("feature") else None
    overwrite = flag("stage.overwrite", st.get("overwrite", False))
    known = dataset_durations(st.dataset_dir) if st.get("dataset_dir") else None
    match = str(st.get("match") or "exact")
    if match not in ("exact", "last11"):
        raise ConfigError(f"stage.match={match!r}: exact (a file's id is the dataset's) or last11 (VidChapters' "
                          "loader: a dataset id takes the features of its last 11 characters)")
    if match == "last11" and known is None:
        raise ConfigError("stage.match=last11 needs stage.dataset_dir (the ids to give the features to)")
    aliases: dict[str, list[str]] = {}
    for vid in known or ():  # media ids (a built table), or task-file keys such as ViTT's `<k>_<YouTube id>`
        aliases.setdefault(vid[-11:] if match == "last11" else vid, []).append(vid)
    if not path.exists():
        raise BadInputError(f"{fmt} source not found", path)
    options = {"format": fmt, "path": str(path.resolve()), "fps": fps, "npz_key": str(st.npz_key),
               "feature": feature, "key": key}
    fingerprint = f"{fmt}-{fingerprint_of(options)[:10]}"
    info: dict[str, Any] = {"key": key, "model": f"imported:{fmt}:{path.name}", "fingerprint": fingerprint,
                            "imported": options}
    if st.get("equivalent_extractor"):
        info.update(equivalent_description(cfg, str(st.equivalent_extractor), key))
    importer = Importer(FeatureStore(ensure_writable_dir(st.store), {key: fingerprint}), key, fingerprint, info,
                        known, overwrite)
    counts, failures, store = importer.counts, importer.failures, importer.store
    for item in read_published(fmt, path, fps, str(st.npz_key), feature):
        if known is not None and item.video_id not in aliases:
            counts["skipped_not_in_dataset"] += 1
            if counts["skipped_not_in_dataset"] <= 5:
                log.warning("%s: video %r is not in the dataset %s: skipped", item.source, item.video_id,
                            st.dataset_dir)
            continue
        for vid in aliases.get(item.video_id, [item.video_id]):
            importer.add(item, vid)
    if not counts["imported"] and not counts["already_imported"]:
        raise BadInputError(f"no usable video in this {fmt} source ({len(failures)} unusable, "
                            f"{counts['skipped_not_in_dataset']} not in the dataset; the log names them)", path)
    atomic_write_json(store.root / key / fingerprint / "extractor.json", info)
    store.write_manifest()
    if failures:
        log.warning(failures.summary())
    summary = {"format": fmt, "path": str(path), "store": str(store.root), "key": key, "fingerprint": fingerprint,
               "fps": fps, "width": importer.width, "counts": dict(counts), "failures": failures.as_rows(),
               "equivalent_extractor": info.get("equivalent_model")}
    log.info("import_features: %d video(s) imported into %s/%s (%s)", counts["imported"], key, fingerprint,
             ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    return StageResult(summary, failed=len(failures))
