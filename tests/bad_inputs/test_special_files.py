"""User-given paths that name special files, and text inputs over the size ceiling (issue 21, item 3).

Every user-given file is checked to be a regular file before it is opened: /dev/zero would be read without
end and a named pipe would block the open until someone writes to it. Text is read with a ceiling that the
message states. The command-line rows (extract's `videos=`, evaluate's `predictions=`) are in the stage
tables; these are the readers underneath, each on its own.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from videolang.builder.readers import TableReader
from videolang.core.checkpoints import read_checkpoint
from videolang.core.errors import BadInputError
from videolang.core.io import DEFAULT_TEXT_LIMIT, TEXT_LIMIT_ENV, read_json, read_jsonl, read_text
from videolang.media.probe import check_readable

pytestmark = pytest.mark.timeout(60)  # a reader that opens a pipe blocks: fail, do not hang the suite


@pytest.fixture
def pipe(tmp_path: Path) -> Path:
    path = tmp_path / "preds.jsonl"
    os.mkfifo(path)
    return path


def test_text_readers_refuse_pipes_and_devices_by_name(pipe: Path):
    with pytest.raises(BadInputError, match=r"preds.jsonl: predictions is a named pipe \(FIFO\), not a regular"):
        read_jsonl(pipe, "predictions")
    with pytest.raises(BadInputError, match=r"/dev/zero: file is a character device \(like /dev/zero\)"):
        read_text("/dev/zero")


def test_media_checkpoint_and_table_readers_refuse_a_pipe(pipe: Path, tmp_path: Path):
    with pytest.raises(BadInputError, match="is a named pipe"):
        check_readable(str(pipe))
    with pytest.raises(BadInputError, match="checkpoint is not a file: it is a named pipe"):
        read_checkpoint(pipe)
    with pytest.raises(BadInputError, match="table is a named pipe"):
        list(TableReader(path=str(pipe)).tasks())
    folder = tmp_path / "tables"  # a pipe among the tables of a folder: that file fails, named, nothing blocks
    folder.mkdir()
    os.mkfifo(folder / "part2.csv")
    (failures,) = [f for _, batch, fs in TableReader(path=str(folder)).tasks() for f in fs]
    assert failures.item == "part2.csv" and "named pipe" in failures.reason


def test_text_over_the_ceiling_is_refused_and_the_ceiling_said(tmp_path: Path, monkeypatch):
    huge = tmp_path / "preds.json"
    with open(huge, "wb") as f:  # sparse: no disk, no time
        f.truncate(DEFAULT_TEXT_LIMIT + 1)
    with pytest.raises(BadInputError, match=rf"preds.json: file is {DEFAULT_TEXT_LIMIT + 1:,} bytes, over the 1 GiB "
                                            rf"limit for a text input \(raise it with {TEXT_LIMIT_ENV}=<MiB>"):
        read_json(huge)
    # a file whose size stat does not tell (/proc) stops at the ceiling while it is read
    monkeypatch.setenv(TEXT_LIMIT_ENV, "0.0001")
    assert os.stat("/proc/self/status").st_size == 0
    with pytest.raises(BadInputError, match=r"status: file holds more than the 104 bytes limit"):
        read_text("/proc/self/status")
    monkeypatch.setenv(TEXT_LIMIT_ENV, "1")
    assert "Name:" in read_text("/proc/self/status")
