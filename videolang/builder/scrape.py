"""Scrape video metadata (never the media) with yt-dlp's Python API: polite, resumable, failure-tolerant.

The network is behind one seam, a *fetcher*: a callable `url -> info dict`.
`YtDlpFetcher` is the real one (`YoutubeDL({"skip_download": True}).extract_info(url,
download=False)`); `SavedInfoFetcher` answers from saved info JSON through
yt-dlp's own offline processing (`process_ie_result`), for tests and for
re-running a scrape from a cache. Everything else here (id lists, rate limit,
resume, failure records) is plain code that runs offline.
"""
from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videolang.builder.readers import INFO_SUFFIX, InfoJsonFolder
from videolang.core.failures import Failure
from videolang.core.ids import id_to_filename, is_youtube_id
from videolang.core.io import atomic_write_json, ensure_writable_dir, read_text

log = logging.getLogger(__name__)

_YT_URL = re.compile(
    r"(?:youtube(?:-nocookie)?\.com/(?:watch\?(?:.*&)?v=|embed/|shorts/|live/|v/)|youtu\.be/)([A-Za-z0-9_-]{11})")
# yt-dlp params for metadata only: no media, no thumbnails, no subtitles, quiet.
BASE_PARAMS = {"skip_download": True, "quiet": True, "no_warnings": True, "noprogress": True,
               "ignore_no_formats_error": True, "writethumbnail": False, "writesubtitles": False}


class FetchError(Exception):
    """A video whose metadata could not be fetched (private, removed, network, ...)."""


def video_id_from(text: str) -> str | None:
    """The YouTube id of a bare id or a YouTube URL, else None."""
    text = text.strip()
    if is_youtube_id(text):
        return text
    m = _YT_URL.search(text)
    return m.group(1) if m else None


def url_for(text: str) -> str:
    vid = video_id_from(text)
    return f"https://www.youtube.com/watch?v={vid}" if vid and text.strip() == vid else text.strip()


def read_inputs(path: str | Path) -> list[str]:
    """Ids or URLs, one per line; blank lines and `#` comments skipped; duplicates removed in order."""
    lines = read_text(path, "id list").splitlines()
    seen, out = set(), []
    for line in lines:
        item = line.split("#", 1)[0].strip() if not line.lstrip().startswith("http") else line.strip()
        if item and item not in seen:
            seen.add(item)
            out.append(item)
    return out


@dataclass
class YtDlpFetcher:
    """The network seam: one yt-dlp metadata request per call."""

    options: dict[str, Any] = field(default_factory=dict)

    def __call__(self, url: str) -> dict:
        import yt_dlp

        with yt_dlp.YoutubeDL({**BASE_PARAMS, **self.options}) as ydl:
            try:
                info = ydl.extract_info(url, download=False)
            except yt_dlp.utils.DownloadError as e:
                raise FetchError(str(e).removeprefix("ERROR: ")) from None
            return ydl.sanitize_info(info)


@dataclass
class SavedInfoFetcher:
    """Offline: `<folder>/<id>.info.json` through yt-dlp's own processing of an info dict."""

    folder: str

    def __call__(self, url: str) -> dict:
        import yt_dlp

        vid = video_id_from(url) or url
        path = Path(self.folder) / f"{id_to_filename(vid)}{INFO_SUFFIX}"
        if not path.exists():
            raise FetchError(f"Video unavailable: no saved metadata for {vid}")
        with yt_dlp.YoutubeDL(BASE_PARAMS) as ydl:
            info = ydl.sanitize_info(json.loads(path.read_text(encoding="utf-8")))
            try:
                processed = ydl.process_ie_result(info, download=False)
            except yt_dlp.utils.DownloadError as e:
                raise FetchError(str(e).removeprefix("ERROR: ")) from None
            return ydl.sanitize_info(processed)


@dataclass
class Scraper:
    """Fetch metadata for inputs into `out_dir/<stem>.info.json`, at most one request per `min_interval_s`."""

    out_dir: str
    fetch: Callable[[str], dict] = field(default_factory=YtDlpFetcher)
    min_interval_s: float = 2.0
    max_videos: int | None = None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic

    def target(self, item: str) -> Path | None:
        vid = video_id_from(item)
        return Path(self.out_dir) / f"{id_to_filename(vid)}{INFO_SUFFIX}" if vid else None

    def run(self, inputs: list[str]) -> dict[str, Any]:
        out = ensure_writable_dir(self.out_dir)
        failures: list[Failure] = []
        fetched = skipped = 0
        last = None
        for item in inputs:
            target = self.target(item)
            if target is not None and target.exists():
                skipped += 1
                continue
            if self.max_videos is not None and fetched + len(failures) >= self.max_videos:
                break
            if last is not None:
                wait = self.min_interval_s - (self.clock() - last)
                if wait > 0:
                    self.sleep(wait)
            last = self.clock()
            try:
                info = self.fetch(url_for(item))
                if not isinstance(info, dict) or not info.get("id"):
                    raise FetchError("yt-dlp returned no video metadata")
                if info.get("_type") == "playlist":
                    raise FetchError("a playlist, not a video: list its videos instead")
                atomic_write_json(out / f"{id_to_filename(str(info['id']))}{INFO_SUFFIX}", info)
                fetched += 1
            except Exception as e:  # noqa: BLE001 - any per-video problem is recorded, never fatal
                reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                failures.append(Failure(item, f"fetch failed: {reason}", None))
                log.warning("scrape: %s failed: %s", item, reason)
        atomic_write_json(out / "failures.json", [vars(f) for f in failures])
        log.info("scrape: %d fetched, %d already there, %d failed -> %s", fetched, skipped, len(failures), out)
        return {"fetched": fetched, "skipped": skipped, "failures": failures}


@dataclass
class ScrapeReader:
    """Scrape `ids` (a file of ids or URLs) into `out_dir`, then read it like an info-JSON folder."""

    ids: str
    out_dir: str
    min_interval_s: float = 2.0
    max_videos: int | None = None
    fetcher: Any = None
    batch_size: int = 500
    name: str = "scrape"

    @property
    def input_path(self) -> str:
        return str(self.ids)

    def tasks(self) -> Iterator[tuple[str, Any]]:
        scraper = Scraper(self.out_dir, self.fetcher or YtDlpFetcher(), self.min_interval_s, self.max_videos)
        summary = scraper.run(read_inputs(self.ids))
        if summary["failures"]:
            yield ("failures", summary["failures"])
        for chunk in InfoJsonFolder(self.out_dir, self.batch_size).tasks():
            yield ("files", chunk)

    def load(self, task: tuple[str, Any]):
        kind, payload = task
        if kind == "failures":
            return [], payload
        return InfoJsonFolder(self.out_dir).load(payload)
