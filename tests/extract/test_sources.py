"""The video list (`videos=`): a folder, a list file, a videos.parquet or one media file, and their bad variants."""
from __future__ import annotations

import os

import pandas as pd
import pytest

from videolang.core.errors import BadInputError
from videolang.core.ids import id_to_filename
from videolang.extract.sources import display_path, list_videos
from tests.extract.media import make_video


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("clip") / "clip.mp4", seconds=1, size=(64, 48), audio=False)


def test_one_media_file_is_a_list_of_one(clip, tmp_path):
    # regression (issue 13, item 1): a single .mp4 was read as a list file and died with UnicodeDecodeError
    items = list_videos(clip)
    assert [(it.video_id, it.path) for it in items] == [("clip", str(clip))]
    upper = tmp_path / "LOUD.MP4"
    upper.write_bytes(clip.read_bytes())
    assert [it.video_id for it in list_videos(upper)] == ["LOUD"]  # extensions match case-insensitively
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x01garbage" * 10)
    assert [it.video_id for it in list_videos(broken)] == ["broken"]  # a media name: the stage reports it per video


def test_list_file_with_non_utf8_names(clip, tmp_path):
    # regression (issue 13, item 1): a list file with non-UTF-8 bytes must work for real non-UTF-8 file names
    raw = tmp_path / os.fsdecode(b"caf\xe9.mp4")
    raw.write_bytes(clip.read_bytes())
    listing = tmp_path / "list.txt"
    listing.write_bytes(b"# comment\r\n" + os.fsencode(str(raw)) + b"\r\n\r\nclip2.mp4\n")
    (tmp_path / "clip2.mp4").write_bytes(clip.read_bytes())
    items = list_videos(listing)
    assert [it.video_id for it in items] == ["caf\\xe9", "clip2"]  # an id that is valid text
    assert os.path.exists(items[0].path)                           # and a path that opens the real file
    assert id_to_filename(items[0].video_id).startswith("~")        # stored under an encoded, safe name
    assert display_path(items[0].path).endswith("caf\\xe9.mp4")     # printable in logs and JSON


def test_latin1_list_of_utf8_names(clip, tmp_path):
    """A list written in Latin-1 (or cp1252) naming files stored under UTF-8 names finds them."""
    (tmp_path / "café.mp4").write_bytes(clip.read_bytes())
    listing = tmp_path / "list.txt"
    listing.write_bytes("café.mp4\n".encode("latin-1"))
    items = list_videos(listing)
    assert [it.video_id for it in items] == ["café"] and os.path.exists(items[0].path)


def test_utf16_and_bom_list_files(clip, tmp_path):
    (tmp_path / "a.mp4").write_bytes(clip.read_bytes())
    for name, data in [("u16.txt", "a.mp4\n".encode("utf-16")), ("u8bom.txt", "\ufeffa.mp4\n".encode("utf-8"))]:
        (tmp_path / name).write_bytes(data)
        assert [it.video_id for it in list_videos(tmp_path / name)] == ["a"], name


@pytest.mark.parametrize("name, data, problem", [
    ("model.bin", bytes(range(256)) * 4, "binary"),
    ("empty.txt", b"", "lists no video"),
    ("comments.txt", b"# nothing here\n\n", "lists no video"),
    ("nowhere.txt", b"missing1.mp4\nmissing2.mp4\n", "none of the 2 listed files exists"),
])
def test_unusable_list_files_are_one_clear_error(tmp_path, name, data, problem):
    (tmp_path / name).write_bytes(data)
    with pytest.raises(BadInputError, match=problem) as err:
        list_videos(tmp_path / name)
    assert err.value.path == str(tmp_path / name) and err.value.hint


def test_list_with_some_missing_files_keeps_them_for_per_video_reasons(clip, tmp_path):
    (tmp_path / "a.mp4").write_bytes(clip.read_bytes())
    (tmp_path / "list.txt").write_text("a.mp4\nmissing.mp4\n")
    assert [it.video_id for it in list_videos(tmp_path / "list.txt")] == ["a", "missing"]


def test_duplicates(clip, tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "a.mp4").write_bytes(clip.read_bytes())
    (tmp_path / "x" / "a.mkv").write_bytes(clip.read_bytes())
    (tmp_path / "same.txt").write_text(f"a.mp4\n{tmp_path / 'a.mp4'}\n")
    assert len(list_videos(tmp_path / "same.txt")) == 1  # the same file twice is one video
    (tmp_path / "two.txt").write_text("a.mp4\nx/a.mkv\n")
    with pytest.raises(BadInputError, match="share the id 'a'.*line 2"):
        list_videos(tmp_path / "two.txt")


def test_unsafe_ids_name_the_line(tmp_path):
    (tmp_path / "list.txt").write_bytes(b"ok.mp4\nbad\x01name.mp4\n")
    with pytest.raises(BadInputError, match="line 2.*control characters"):
        list_videos(tmp_path / "list.txt")


def test_folders(clip, tmp_path):
    with pytest.raises(BadInputError, match="no media file"):
        list_videos(tmp_path)
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(BadInputError, match="no media file"):
        list_videos(tmp_path)
    raw = tmp_path / os.fsdecode(b"na\xefve.mp4")
    raw.write_bytes(clip.read_bytes())
    assert [it.video_id for it in list_videos(tmp_path)] == ["na\\xefve"]
    with pytest.raises(BadInputError, match="not found"):
        list_videos(tmp_path / "nowhere")


def test_parquet_sources(clip, tmp_path):
    good = pd.DataFrame({"video_id": ["a", "b", "c"], "video_path": [str(clip), None, float("nan")]})
    good.to_parquet(tmp_path / "videos.parquet")
    assert [it.video_id for it in list_videos(tmp_path / "videos.parquet")] == ["a"]  # rows without media skipped
    pd.DataFrame({"video_id": ["a"]}).to_parquet(tmp_path / "nocol.parquet")
    with pytest.raises(BadInputError, match="no 'video_path' column"):
        list_videos(tmp_path / "nocol.parquet")
    pd.DataFrame({"video_id": ["a", "b"], "video_path": [None, None]}).to_parquet(tmp_path / "nopaths.parquet")
    with pytest.raises(BadInputError, match="no row has a video_path"):
        list_videos(tmp_path / "nopaths.parquet")
    pd.DataFrame({"video_id": [None], "video_path": [str(clip)]}).to_parquet(tmp_path / "noid.parquet")
    with pytest.raises(BadInputError, match="row 0.*video id"):
        list_videos(tmp_path / "noid.parquet")
    (tmp_path / "junk.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(BadInputError, match="cannot read as Parquet"):
        list_videos(tmp_path / "junk.parquet")
