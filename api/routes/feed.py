"""Live feed over WebSocket: phase changes, interval counts, plan and mode changes, audit, jobs.

Browsers cannot set headers on a WebSocket, so the bearer token comes as the ``token`` query
parameter. Each message is one JSON object with a ``type``. The token is checked again every
``SESSION_RECHECK_S`` seconds while the socket is open: a revoked session, or a disabled or deleted
user, closes the feed (code 4401) within that time.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from api.context import AppContext

router = APIRouter(tags=["feed"])

SESSION_RECHECK_S = 5.0


@router.websocket("/feed")
async def feed(websocket: WebSocket, token: str = "") -> None:
    ctx: AppContext = websocket.app.state.ctx
    if ctx.principal_for_token(token) is None:
        await websocket.close(code=4401, reason="invalid or expired token")
        return
    await websocket.accept()
    queue = ctx.hub.subscribe()
    receiver: asyncio.Future[str] | None = None
    try:
        now = ctx.now()
        for iid in ctx.scenario.intersections:
            await websocket.send_json({"type": "phase", **_phase(ctx, iid, now)})
        checked = time.monotonic()
        while True:
            if time.monotonic() - checked >= SESSION_RECHECK_S:
                checked = time.monotonic()
                if await asyncio.to_thread(ctx.principal_for_token, token) is None:
                    if receiver is not None:
                        receiver.cancel()
                    await websocket.close(code=4401, reason="session ended")
                    return
            if receiver is None:
                receiver = asyncio.ensure_future(websocket.receive_text())
            getter = asyncio.ensure_future(queue.get())
            waiting: set[asyncio.Future[Any]] = {receiver, getter}
            done, _ = await asyncio.wait(waiting, timeout=SESSION_RECHECK_S,
                                         return_when=asyncio.FIRST_COMPLETED)
            if not done:
                getter.cancel()
                continue
            if receiver in done:
                getter.cancel()
                receiver.result()  # raises WebSocketDisconnect when the client left
                receiver = None
                continue
            await websocket.send_json(getter.result())
    except WebSocketDisconnect:
        pass
    finally:
        ctx.hub.unsubscribe(queue)
        if receiver is not None and not receiver.done():
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                await receiver


def _phase(ctx: AppContext, iid: str, now: float) -> dict:
    rec, _ = ctx.live.in_force(iid, now)
    index, kind, left = rec.plan.interval_at(now)
    return {"intersection": iid, "plan": rec.name, "version": rec.version, "phase": index,
            "phase_name": rec.plan.phases[index].name, "interval": str(kind), "remaining_s": round(left, 2),
            "at_s": now}


async def ticker(ctx: AppContext) -> None:
    """Publish a ``phase`` event whenever an intersection's phase or interval changes; apply schedules."""
    from api.control import apply_schedules

    last: dict[str, tuple] = {}
    beats = 0
    while True:
        now = ctx.now()
        for iid in ctx.scenario.intersections:
            key = ctx.live.phase_key(iid, now)
            if last.get(iid) != key:
                last[iid] = key
                if ctx.hub.clients:
                    ctx.hub.publish({"type": "phase", **_phase(ctx, iid, now)})
        beats += 1
        if beats % max(1, int(5 / ctx.settings.tick_s)) == 0:
            try:
                await asyncio.to_thread(apply_schedules, ctx)
            except Exception:  # a schedule problem must not stop the feed; it is logged
                import logging

                logging.getLogger("greenwave.api").exception("applying schedules failed")
        await asyncio.sleep(ctx.settings.tick_s)
