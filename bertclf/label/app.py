"""The labelling page and its JSON API (FastAPI, served by uvicorn as `bertclf serve` is).

``POST /api/next`` leases the next text to an annotator with the model's suggestion; ``POST
/api/answer`` keeps an answer (committed before the reply) and returns the next text;
``/api/undo`` takes the annotator's last answer back; ``GET /api/status`` gives the counts, the
estimate, the learning curve, the suspects and the disagreements. Errors are JSON
``{"error": {"type", "message"}}`` with a 4xx status.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from bertclf.errors import BertclfError
from bertclf.label.learner import curve_sentence
from bertclf.label.store import LeaseError
from bertclf.serve.guard import bearer_matches


class Who(BaseModel):
    annotator: str = Field(min_length=1, max_length=100)


class Answer(Who):
    text_id: int
    labels: list[str] = Field(default_factory=list)
    skipped: bool = False


def create_label_app(store: Any, learner: Any, api_key: str | None = None) -> FastAPI:
    """The app over ``store`` (a ``LabelStore``) and ``learner`` (a started ``Learner``)."""
    keys = [api_key.encode()] if api_key else []
    app = FastAPI(title="bertclf label", docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")

    @app.middleware("http")
    async def key_check(request: Request, call_next: Any) -> Any:
        if api_key and request.url.path.startswith("/api/") and not bearer_matches(request.scope, keys):
            return _error(401, "unauthorized", "give the API key as 'Authorization: Bearer KEY'")
        return await call_next(request)

    @app.exception_handler(BertclfError)
    async def refused(request: Request, exc: BertclfError) -> JSONResponse:
        if isinstance(exc, LeaseError):
            return _error(409, "lease_held", str(exc))
        kind = "unknown_label" if str(exc).startswith("unknown label") else "bad_answer"
        return _error(400, kind, str(exc))

    @app.get("/", include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse(resources.files("bertclf.label").joinpath("static/label.html").read_text("utf-8"))

    @app.get("/api/session")
    def session() -> dict[str, Any]:
        return {"labels": store.labels, "multi_label": store.multi_label, "texts": len(store.ids),
                "database": store.path.name}

    def next_for(annotator: str) -> dict[str, Any]:
        found = learner.next_texts(annotator, 1)
        if not found:
            return {"done": True}
        text_id = found[0]
        suggestion = learner.suggestion(text_id)
        suggested: list[str] = []
        if suggestion:
            if store.multi_label:
                suggested = [label for label, p in suggestion.items() if p >= 0.5]
            else:
                suggested = [max(suggestion, key=suggestion.get)]
        return {"done": False, "text_id": text_id, "text": store.texts([text_id])[text_id],
                "suggestion": suggestion, "suggested": suggested}

    @app.post("/api/next")
    def next_text(who: Who) -> dict[str, Any]:
        return next_for(who.annotator)

    @app.post("/api/answer")
    def answer(given: Answer) -> dict[str, Any]:
        store.answer(given.text_id, given.labels, given.annotator, skipped=given.skipped)
        learner.changed()
        return {"kept": given.text_id, "next": next_for(given.annotator)}

    @app.post("/api/undo")
    def undo(who: Who) -> dict[str, Any]:
        text_id = store.undo(who.annotator)
        if text_id is None:
            return {"undone": None, "next": next_for(who.annotator)}
        learner.changed()
        suggestion = learner.suggestion(text_id)
        return {"undone": text_id, "next": {"done": False, "text_id": text_id,
                                            "text": store.texts([text_id])[text_id], "suggestion": suggestion,
                                            "suggested": []}}

    @app.get("/api/status")
    def status() -> dict[str, Any]:
        return status_of(store, learner)

    return app


def status_of(store: Any, learner: Any) -> dict[str, Any]:
    """Counts, the estimate, the curve and what to review: the page's side panel and `label status`."""
    snap = learner.snapshot if learner is not None else None
    answered = store.answered()
    suspects = [dict(row) for row in snap.suspects] if snap else []  # copies: the snapshot is shared
    disagreements = store.disagreements()
    texts = store.texts([s["text_id"] for s in suspects] + [d["text_id"] for d in disagreements])
    for row in suspects + disagreements:
        row["text"] = texts.get(row["text_id"], "")
    return {"labels": store.labels, "multi_label": store.multi_label, "texts": len(store.ids),
            "labelled": len(answered), "skipped": len(store.skipped()), "counts": store.counts(),
            "estimate": snap.estimate if snap else None, "curve": snap.curve if snap else [],
            "curve_sentence": curve_sentence(snap.curve) if snap else None,
            "suspects": suspects, "disagreements": disagreements,
            "refit_seconds": snap.seconds if snap else None, "tuning": snap.tuning if snap else None}


def _error(status: int, kind: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"type": kind, "message": message}}, status_code=status)
