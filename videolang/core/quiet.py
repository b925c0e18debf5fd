"""Stage output that says what videolang is doing, not what its libraries are doing.

Library chatter (transformers' "Loading weights" bars, Lightning's tips and device
banners, faster-whisper's per-file INFO lines, deprecation and future warnings)
buries a stage's own progress bar and report. `quiet_libraries()` turns it down
for one process; `verbose=true` on the command line leaves everything visible;
`quiet_transformers()` silences transformers' load reports while one model loads.
Errors and warnings that concern the user's data still come through: library
loggers go to WARNING, not off.
"""
from __future__ import annotations

import contextlib
import logging
import os
import warnings

# INFO of these loggers is progress or banners; their WARNINGs still show
CHATTY_LOGGERS = ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning", "lightning_fabric",
                  "faster_whisper", "transformers", "huggingface_hub", "torch", "urllib3", "filelock", "fsspec",
                  "numba", "matplotlib", "PIL", "httpx", "submitit")

# Warnings that are about library internals, not the user's run
NOISE_CATEGORIES = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)
NOISE_MESSAGES = (
    ".*does not have many workers.*",          # our loaders pick their own worker counts on purpose
    ".*is smaller than the logging interval.*",  # tiny demo datasets
    ".*Checkpoint directory .* exists and is not empty.*",  # resumable runs write into their folder
    ".*srun.*command is available on your system.*",
    ".*The `srun` command.*",
    ".*TypedStorage is deprecated.*",
    ".*torch.meshgrid.*indexing.*",
)

# Lightning's notes that do not apply to a prediction writer over an iterable of pieces (stage=extract, batch
# predict): filtered around their `trainer.predict`
PREDICT_WRITER_NOTES = ("Couldn't infer the batch indices", "predict returned None", ".*LeafSpec.*is deprecated")


class LibraryChatterFilter(logging.Filter):
    """Drops INFO and below from library loggers at the handler, so a library that resets its logger's level
    when it is imported later (Lightning sets its own to INFO) still cannot print its banners."""

    ROOTS = frozenset(name.split(".")[0] for name in CHATTY_LOGGERS)

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or record.name.split(".")[0] not in self.ROOTS


# what spawned workers (DataLoader, ddp_spawn), which start with fresh warning filters, inherit
QUIET_ENVIRONMENT = {
    "PYTHONWARNINGS": "ignore::DeprecationWarning,ignore::FutureWarning",
    "TRANSFORMERS_VERBOSITY": "error",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
}


def quiet_libraries(verbose: bool = False) -> None:
    """Turn library chatter down for this process (and, through the environment, its workers).

    Call it again once a stage's libraries are imported: Lightning resets its loggers on import.
    """
    if verbose:
        return
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    handlers = [h for name in ("", *CHATTY_LOGGERS) for h in logging.getLogger(name).handlers]
    for handler in handlers:
        if not any(isinstance(f, LibraryChatterFilter) for f in handler.filters):
            handler.addFilter(LibraryChatterFilter())
    for category in NOISE_CATEGORIES:
        warnings.filterwarnings("ignore", category=category)
    for message in NOISE_MESSAGES:
        warnings.filterwarnings("ignore", message=message)
    # spawned workers (DataLoader, ddp_spawn) start with fresh filters: the environment carries the choice
    for name, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    try:
        import transformers.utils.logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()  # the "Loading weights" bars of from_pretrained
    except ImportError:
        pass
    try:
        import huggingface_hub.utils as hub_utils

        hub_utils.disable_progress_bars()
    except ImportError:
        pass


@contextlib.contextmanager
def quiet_transformers():
    """Silence transformers' load reports (unused text-tower weights etc.) while loading a model."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
