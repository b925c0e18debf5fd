"""The viewer's web app: a FastAPI JSON API over `Viewer` plus one self-contained page (static/).

Every model question is a job (`POST` answers with its id, `GET /api/jobs/<id>` with its state), so the
page shows what is happening while a video encodes and the server keeps answering other browsers.
Bad inputs are answered with `{"error": message}` and a 4xx status: 400 a bad request or file, 403 a
path outside the configured folders, 404 an unknown video or job, 409 no model for that question.
No CDN, no API docs page (its assets come from a CDN), no telemetry: the app works offline.
"""
from __future__ import annotations

import logging
import mimetypes
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, File, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from videolang.core.errors import BadInputError, VideolangError
from videolang.serve.browse import BrowseTable, browse_table
from videolang.serve.jobs import Job, JobQueue, Progress
from videolang.serve.library import RefusedPath, UnknownVideo, VideoLibrary
from videolang.serve.models import ViewerModels
from videolang.tasks.videoqa import parse_span

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
MAX_QUERY_CHARS = 500


class NoModel(BadInputError):
    """A question for a task whose checkpoint is absent, loading or unusable."""


@dataclass
class Viewer:
    """What the app serves: the videos, the models, the job queue and the optional browse table."""

    library: VideoLibrary
    models: ViewerModels
    predictions: str | None = None
    references: str | None = None
    jobs: JobQueue = field(default_factory=JobQueue)
    browse: BrowseTable | None = None
    browse_job: Job | None = None

    def start(self) -> None:
        """Load the checkpoints, then score the browse files, on the worker (the server answers meanwhile)."""
        self.jobs.submit("load checkpoints", self.models.load)
        if self.predictions and self.references:
            self.browse_job = self.jobs.submit("score the predictions", self._score)

    def _score(self, progress: Progress) -> dict[str, Any]:
        progress("scoring the predictions against the references")
        self.browse = browse_table(self.predictions, self.references)
        return {"videos": len(self.browse.rows)}

    def close(self) -> None:
        self.jobs.close()
        self.library.close()


class Question(BaseModel):
    question: str = ""
    answers: list[str] = []
    ts: str | None = None


class Query(BaseModel):
    query: str = ""


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_app(viewer: Viewer) -> FastAPI:
    app = FastAPI(title="videolang viewer", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.viewer = viewer
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(VideolangError)
    async def videolang_error(request: Request, exc: VideolangError) -> JSONResponse:
        status = 404 if isinstance(exc, UnknownVideo) else 403 if isinstance(exc, RefusedPath) else \
            409 if isinstance(exc, NoModel) else 400
        return _error(status, str(exc))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:  # no such route: the same shape
        return _error(exc.status_code, f"{exc.detail}: {request.url.path[:200]}")

    @app.exception_handler(RequestValidationError)
    async def request_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        where = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors()[:3])
        return _error(400, f"malformed request: {where}")

    @app.get("/")
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/api/info")
    def info() -> dict[str, Any]:
        lib = viewer.library
        browse = None
        if viewer.browse_job is not None:
            browse = viewer.jobs.get(viewer.browse_job.id)
            browse.pop("result", None)
        return {"models": viewer.models.status(), "dataset": None if lib.dataset_dir is None else str(lib.dataset_dir),
                "problems": list(lib.problems), "max_upload_mb": lib.max_upload_bytes >> 20, "browse": browse}

    @app.get("/api/videos")
    def videos() -> list[dict[str, Any]]:
        return viewer.library.list()

    @app.get("/api/videos/{vid}")
    def video(vid: str) -> dict[str, Any]:
        entry = viewer.library.get(vid)
        return {**entry.details(), "encoded": viewer.models.encoded(entry), "media": f"/media/{vid}"}

    @app.get("/media/{vid}")
    def media(vid: str) -> FileResponse:  # Starlette answers Range requests (206): the player can seek
        entry = viewer.library.get(vid)
        kind = mimetypes.guess_type(entry.path.name)[0] or "application/octet-stream"
        return FileResponse(entry.path, media_type=kind)

    @app.post("/api/upload")
    def upload(file: UploadFile = File(...)) -> dict[str, Any]:
        return viewer.library.add_upload(file.filename or "upload", file.file).summary()

    def need(task: str) -> None:
        try:
            viewer.models.predictor(task)
        except BadInputError as e:
            raise NoModel(e.problem, hint=e.hint) from None

    @app.post("/api/videos/{vid}/chapters")
    def chapters(vid: str) -> dict[str, Any]:
        entry = viewer.library.get(vid)
        need("chapters")
        job = viewer.jobs.submit(f"chapters of {vid}", lambda progress: viewer.models.chapters(entry, progress))
        return viewer.jobs.get(job.id)

    @app.get("/api/videos/{vid}/chapters.vtt")
    def chapters_vtt(vid: str) -> PlainTextResponse:
        entry = viewer.library.get(vid)
        need("chapters")
        done = viewer.models.cached_chapters(entry)
        if done is None:
            raise UnknownVideo(f"no chapters predicted yet for {vid!r}", hint="POST /api/videos/<id>/chapters")
        return PlainTextResponse(done["vtt"], media_type="text/vtt")

    @app.post("/api/videos/{vid}/ground")
    def ground(vid: str, body: Query) -> dict[str, Any]:
        entry = viewer.library.get(vid)
        query = body.query.strip()
        if not query:
            raise BadInputError("empty query: type what to look for")
        if len(query) > MAX_QUERY_CHARS:
            raise BadInputError(f"query longer than {MAX_QUERY_CHARS} characters")
        need("grounding")
        job = viewer.jobs.submit(f"moment in {vid}", lambda progress: viewer.models.ground(entry, query, progress))
        return viewer.jobs.get(job.id)

    @app.post("/api/videos/{vid}/ask")
    def ask(vid: str, body: Question) -> dict[str, Any]:
        entry = viewer.library.get(vid)
        question = body.question.strip()
        answers = [a.strip() for a in body.answers if a.strip()]
        if not question:
            raise BadInputError("empty question")
        if len(answers) < 2:
            raise BadInputError("give at least two candidate answers, one per line")
        ts = (body.ts or "").strip() or None
        if ts is not None and parse_span(ts) is None:
            raise BadInputError(f"ts {ts!r} is not a span: write start-end in seconds, e.g. 10-25")
        need("videoqa")
        job = viewer.jobs.submit(f"question on {vid}",
                                 lambda progress: viewer.models.ask(entry, question, answers, ts, progress))
        return viewer.jobs.get(job.id)

    @app.get("/api/jobs/{job_id}")
    def job(job_id: str) -> dict[str, Any]:
        found = viewer.jobs.get(job_id)
        if found is None:
            raise UnknownVideo(f"unknown job {job_id[:40]!r}")
        return found

    @app.get("/api/browse")
    def browse() -> dict[str, Any]:
        if viewer.browse_job is None:
            raise UnknownVideo("no predictions file to browse", hint="start the viewer with predictions=<file> "
                                                                     "references=<file>")
        if viewer.browse is None:
            return viewer.jobs.get(viewer.browse_job.id)
        return {"status": "done", **viewer.browse.to_json()}

    @app.get("/api/browse/{vid}")
    def browse_video(vid: str) -> dict[str, Any]:
        if viewer.browse is None or vid not in viewer.browse.items:
            raise UnknownVideo(f"no browsed predictions for video {vid[:80]!r}")
        return {"task": viewer.browse.task, **viewer.browse.items[vid]}

    return app
