"""The one rule extract and batch predict share for what a re-run redoes (store.manifest.outcome_stands)."""
import math

from videolang.store.manifest import file_stamp, outcome_stands


def test_failure_stands_for_the_same_file_unless_retry_is_asked():
    row = {"status": "failed", "file_stamp": "100:7"}
    assert outcome_stands(row, "100:7")
    assert not outcome_stands(row, "100:7", retry_failed=True)


def test_changed_file_redoes_any_outcome():
    assert not outcome_stands({"status": "failed", "file_stamp": "100:7"}, "100:8")
    assert not outcome_stands({"status": "done", "file_stamp": "100:7"}, "101:7")
    assert outcome_stands({"status": "done", "file_stamp": "100:7"}, "100:7", retry_failed=True)


def test_missing_file_that_appears_is_retried(tmp_path):
    media = tmp_path / "late.mp4"
    row = {"status": "failed", "file_stamp": file_stamp(media)}  # recorded while the file was missing
    assert row["file_stamp"] is None and outcome_stands(row, file_stamp(media))
    media.write_bytes(b"now it is here")
    assert not outcome_stands(row, file_stamp(media))


def test_rows_of_older_versions_without_stamp():
    old = {"status": "failed", "file_stamp": math.nan}  # the column was missing from the journal
    assert outcome_stands(old, None)            # the file still cannot be read: nothing new to try
    assert not outcome_stands(old, "100:7")     # readable now: retried once, then stamped
    assert not outcome_stands({"status": "failed"}, "100:7")
