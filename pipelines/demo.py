"""`make demo`: the whole chain on the built-in sample corpus, one `videolang.run` call per stage.

make_sample -> make_zoo -> build_dataset -> extract -> train (short) -> evaluate -> predict,
then train_grounding (a small grounding head on the same features, shorter still) ->
predict_grounding (one query, a true chapter title of the same held-out video, its windows
printed next to the true span), then train_videoqa (a multiple-choice VideoQA head on the
generator's questions) -> predict_videoqa (one of that video's questions, asked of the raw video,
every answer's probability printed next to the true answer). Each stage is resumable, so running the demo again redoes only
what is missing (training and prediction run again, they are short). Every run folder lands
under `logs/demo/<step>/`.

    python -m pipelines.demo                            # the default chain
    python -m pipelines.demo --from train               # start at a later step
    python -m pipelines.demo --only extract             # one step
    python -m pipelines.demo --from train_grounding     # the grounding and VideoQA parts
    python -m pipelines.demo --from train_videoqa       # only the VideoQA part
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO_LOGS = ROOT / "logs" / "demo"
SAMPLE_DIR = ROOT / "datasets" / "sample"
BUILT_DIR = ROOT / "datasets" / "built" / "sample"


@dataclass
class Step:
    stage: str
    args: list[str] = field(default_factory=list)
    # Exit code 3 ("finished, some items failed") is expected where the sample's awkward files are read.
    items_may_fail: bool = False
    # The step's run folder `logs/demo/<name>/` and its --from/--only choice; the stage by default.
    name: str = ""
    # Arguments read from an earlier step's output (built task files), computed when the step runs.
    late_args: Callable[[], list[str]] | None = None
    # Printed after the step succeeded (e.g. the true span next to the predicted windows).
    after: Callable[["Step"], None] | None = None

    def __post_init__(self) -> None:
        self.name = self.name or self.stage

    @property
    def run_dir(self) -> Path:
        return DEMO_LOGS / self.name


def first_test_video() -> Path:
    """The raw video of the first test-split video: predict never saw its features during training."""
    test = json.loads((BUILT_DIR / "tasks" / "dense_captioning_test.json").read_text())
    return SAMPLE_DIR / "videos" / f"{sorted(test)[0]}.mp4"


def grounding_row() -> dict:
    """The grounding query asked of that video: one of its true chapter titles (the middle one of the
    built task file's rows, usually a topic chapter rather than the intro), with its true span."""
    vid = first_test_video().stem
    lines = (BUILT_DIR / "tasks" / "grounding_test.jsonl").read_text().splitlines()
    rows = [row for row in map(json.loads, filter(str.strip, lines)) if row["vid"] == vid]
    if not rows:
        raise SystemExit(f"demo stopped: no grounding query for test video {vid} in {BUILT_DIR / 'tasks'}")
    return rows[len(rows) // 2]


def hydra_quoted(text: object) -> str:
    """A string value for Hydra's override grammar (answers may hold commas, colons or quotes)."""
    return '"' + str(text).replace('"', '\\"') + '"'


def grounding_query_args() -> list[str]:
    return [f"query={hydra_quoted(grounding_row()['query'])}"]


def print_true_span(step: Step) -> None:
    """The true span of the query under the predicted windows stage=predict printed, and the best one's tIoU."""
    from videolang.core.spans import tiou
    from videolang.core.timefmt import format_timestamp as ts

    row, video = grounding_row(), first_test_video()
    spans = [(float(s), float(e)) for s, e in row["relevant_windows"]]
    print(f"true span: {', '.join(f'{ts(s)}-{ts(e)}' for s, e in spans)}  ({row['query']!r} in {video.name}, "
          f"{row['duration']:.0f} s)")
    found = step.run_dir / f"{video.stem}.grounding.json"
    if found.is_file():
        windows = json.loads(found.read_text())["queries"][0]["windows"]
        if windows:
            s, e, p = windows[0]
            print(f"best window {ts(s)}-{ts(e)} (score {p:.3f}): tIoU {max(tiou((s, e), w) for w in spans):.2f} "
                  f"with the true span")


def videoqa_row() -> dict:
    """The question asked of that video: its first generated question (tasks/videoqa_test.jsonl)."""
    vid = first_test_video().stem
    lines = (BUILT_DIR / "tasks" / "videoqa_test.jsonl").read_text().splitlines()
    rows = [row for row in map(json.loads, filter(str.strip, lines)) if row["vid"] == vid]
    if not rows:
        raise SystemExit(f"demo stopped: no question for test video {vid} in {BUILT_DIR / 'tasks'}")
    return rows[0]


def videoqa_args() -> list[str]:
    """question, answers and ts of the demo's question, as overrides."""
    row = videoqa_row()
    args = [f"question={hydra_quoted(row['question'])}",
            "answers=[" + ",".join(hydra_quoted(a) for a in row["answers"]) + "]"]
    if row.get("ts"):
        start, end = row["ts"]
        args.append(f"ts={hydra_quoted(f'{start}-{end}')}")
    return args


def print_true_answer(step: Step) -> None:
    row = videoqa_row()
    print(f"true answer: {row['answers'][row['answer_idx']]!r} ({row.get('category') or 'question'} "
          f"{row['qid']}; the transcript is the raw video's own ASR)")


def steps() -> list[Step]:
    train_dir, grounding_dir = DEMO_LOGS / "train", DEMO_LOGS / "train_grounding"
    return [
        Step("make_sample"),
        Step("make_zoo"),
        Step("build_dataset", ["data=sample"]),
        Step("extract", ["extractor=tiny", f"videos={SAMPLE_DIR}"], items_may_fail=True),
        Step("train", ["experiment=sample_demo"]),
        Step("evaluate", ["task=chapter_generation",
                          f"predictions={train_dir / 'predictions_test.json'}",
                          f"references={BUILT_DIR / 'tasks' / 'dense_captioning_test.json'}"]),
        Step("predict", [f"ckpt={train_dir / 'checkpoints' / 'best.ckpt'}",
                         f"stage.references={SAMPLE_DIR / 'manifest.json'}"]),
        # Grounding on the same features and task files (grounding_<split>.jsonl: chapter titles as queries).
        Step("train", ["experiment=sample_demo_grounding"], name="train_grounding"),
        Step("predict", ["task=grounding", f"ckpt={grounding_dir / 'checkpoints' / 'best.ckpt'}"],
             name="predict_grounding", late_args=grounding_query_args, after=print_true_span),
        # VideoQA on the same features: the generator's questions (videoqa_<split>.jsonl) and narration subtitles.
        Step("train", ["experiment=sample_demo_videoqa"], name="train_videoqa"),
        Step("predict", ["task=videoqa", f"ckpt={DEMO_LOGS / 'train_videoqa' / 'checkpoints' / 'best.ckpt'}"],
             name="predict_videoqa", late_args=videoqa_args, after=print_true_answer),
    ]


def run_step(step: Step) -> None:
    args = list(step.args)
    if step.stage == "train" and step.run_dir.exists():
        shutil.rmtree(step.run_dir)  # a fresh short training; Lightning would version clashing checkpoints
    if step.stage == "predict":
        args.append(f"video={first_test_video()}")
    if step.late_args:
        args.extend(step.late_args())
    cmd = [sys.executable, "-m", "videolang.run", f"stage={step.stage}", f"hydra.run.dir={step.run_dir}", *args]
    print(f"\n=== {step.name}: {' '.join(cmd[2:])}", flush=True)
    started = time.time()
    code = subprocess.call(cmd, cwd=ROOT, env=dict(os.environ, HF_HUB_OFFLINE="1"))
    print(f"=== {step.name}: exit {code} after {time.time() - started:.0f} s", flush=True)
    if code == 3 and step.items_may_fail:
        print(f"    (expected: the sample's awkward/ files are broken on purpose; see {step.run_dir / 'summary.json'})")
    elif code != 0:
        raise SystemExit(f"demo stopped: step {step.name} failed (exit {code}); its log is in {step.run_dir}")
    if step.after:
        step.after(step)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    names = [s.name for s in steps()]
    parser.add_argument("--from", dest="start", choices=names, default=names[0])
    parser.add_argument("--only", choices=names)
    opts = parser.parse_args(argv)
    chain = steps()
    if opts.only:
        chain = [s for s in chain if s.name == opts.only]
    else:
        chain = chain[names.index(opts.start):]
    started = time.time()
    for step in chain:
        run_step(step)
    print(f"\ndemo finished in {time.time() - started:.0f} s; run folders under {DEMO_LOGS}")


if __name__ == "__main__":
    main()
