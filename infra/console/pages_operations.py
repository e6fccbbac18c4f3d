"""The console's operations page (/console/projections), for operators: each view's position, lag and
last checksum, a background rebuild of the views with its progress (`Rebuild`,
/console/projections/rebuild) and checksums of the views on demand (/console/projections/checksum).
"""

import threading
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from infra.console.plumbing import Console, Redirect, now_iso
from infra.readmodels.live_views import LiveViews


class Rebuild:
    """One background rebuild of the views at a time, with its progress for the page to poll."""

    def __init__(self, views: LiveViews):
        self.views = views
        self._lock = threading.Lock()
        self.state: dict[str, Any] = {"running": False}
        self.checksum: dict[str, Any] | None = None  # the last checksums computed here: {"at", "views"}

    def start(self, by: str) -> bool:
        with self._lock:
            if self.state.get("running"):
                return False
            self.state = {
                "running": True,
                "by": by,
                "started_at": now_iso(),
                "finished_at": None,
                "head": self.views.head(),
                "done": 0,
                "last": 0,
                "error": None,
            }
        threading.Thread(target=self._run, name="console-rebuild", daemon=True).start()
        return True

    def _run(self) -> None:
        def progress(done: int, last: int) -> None:
            self.state.update(done=done, last=last)

        try:
            result = self.views.rebuild(progress)
            self.checksum = {"at": now_iso(), "views": result}
        except Exception as error:  # noqa: BLE001 - shown on the page; the old generation keeps serving
            self.state["error"] = f"{type(error).__name__}: {error}"
        finally:
            self.state.update(running=False, finished_at=now_iso())

    def percent(self) -> int:
        head = self.state.get("head") or 0
        if not head:
            return 0 if self.state.get("running") else 100
        return min(100, int(100 * (self.state.get("last") or 0) / head))


def register_operations_pages(api: APIRouter, console: Console) -> None:
    views, html, signed_in, check_csrf = console.ledger.views, console.html, console.signed_in, console.check_csrf
    rebuild = Rebuild(views)

    @api.get("/projections")
    @html
    def projections(request: Request) -> Response:
        session, key = signed_in(request, "operator")
        head = views.head()
        positions = None
        if views.lock.acquire(timeout=0.5):  # a running rebuild holds it: show its progress only
            try:
                positions = views.runner.positions()
            finally:
                views.lock.release()
        rows = [
            {
                "name": n,
                "position": p,
                "lag": max(0, head - p),
                "checksum": (rebuild.checksum or {}).get("views", {}).get(n),
            }
            for n, p in sorted((positions or {}).items())
        ]
        return console.page(
            "projections.html",
            request,
            session,
            key,
            head=head,
            rows=rows,
            busy=positions is None,
            rebuild=rebuild.state,
            percent=rebuild.percent(),
            checksum=rebuild.checksum,
        )

    @api.post("/projections/rebuild")
    @html
    def start_rebuild(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
        session, key = signed_in(request, "operator")
        check_csrf(session, csrf)
        if not rebuild.start(key["key_id"]):
            console.flash(session, "error", "A rebuild is already running. 重建正在进行中。")
        raise Redirect("/console/projections")

    @api.post("/projections/checksum")
    @html
    def checksum(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
        session, _ = signed_in(request, "operator")
        check_csrf(session, csrf)
        if rebuild.state.get("running"):
            console.flash(session, "error", "A rebuild is running; checksums after it. 重建进行中。")
            raise Redirect("/console/projections")
        views.catch_up()
        rebuild.checksum = {"at": now_iso(), "views": views.summaries()}
        raise Redirect("/console/projections")
