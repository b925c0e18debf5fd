"""Issue 14 (item 5): library chatter is hidden in stage output unless verbose=true, and our own lines stay."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

SCRIPT = """
import logging, sys, warnings
logging.basicConfig(level=logging.INFO)
from videolang.core.quiet import quiet_libraries
quiet_libraries(verbose=sys.argv[2] == "verbose")
from transformers import T5ForConditionalGeneration
T5ForConditionalGeneration.from_pretrained(sys.argv[1])
warnings.warn("an old api", DeprecationWarning)
import lightning.pytorch  # resets its logger to INFO on import: the runner quiets again once the stage is imported
quiet_libraries(verbose=sys.argv[2] == "verbose")
logging.getLogger("lightning.pytorch.utilities.rank_zero").info("GPU available: False, used: False")
logging.getLogger("faster_whisper").info("Processing audio with duration 01:18.019")
logging.getLogger("lightning.pytorch").warning("a real problem with the run")
logging.getLogger("videolang").info("videolang speaks")
"""

CHATTER = ("Loading weights", "an old api", "GPU available", "Processing audio")


@pytest.mark.parametrize("mode", ["quiet", "verbose"])
def test_library_chatter_is_hidden_unless_verbose(tiny_t5, mode):
    from videolang.core.quiet import QUIET_ENVIRONMENT

    env = {k: v for k, v in os.environ.items() if k not in QUIET_ENVIRONMENT}  # as a fresh shell has it
    env["HF_HUB_OFFLINE"] = "1"
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tiny_t5), mode], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    output = proc.stdout + proc.stderr
    assert "videolang speaks" in output and "a real problem with the run" in output
    for chatter in CHATTER:
        assert (chatter in output) == (mode == "verbose"), (chatter, output)
