"""Intersections: list, detail, live status, controller mode, and the corridor for a time-space diagram."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse

from api import control
from api.deps import DB, Ctx, Operator, Viewer
from api.errors import ApiError
from api.schemas import ModeIn, ModeOut

router = APIRouter(tags=["intersections"])

STATUS_DOC: dict[int | str, dict[str, Any]] = {
    200: {"description": "live status: plan and phase in force, time in cycle, pending activation, "
                         "last interval's counts, per lane group flow, v/c, delay, LOS and queue, "
                         "camera health, controller mode; ETag for If-Match on activate/rollback",
          "content": {"application/json": {"schema": {"type": "object"}}}}}


def _check(ctx: Ctx, iid: str) -> None:
    if iid not in ctx.scenario.intersections:
        raise ApiError(404, f"no intersection {iid!r}")


def _summary(ctx: Ctx, iid: str) -> dict[str, Any]:
    inter = ctx.scenario.intersections[iid]
    nodes = [ctx.scenario.network.nodes[n] for n in inter.nodes]
    return {"id": iid, "nodes": list(inter.nodes),
            "x_m": sum(n.x_m for n in nodes) / len(nodes), "y_m": sum(n.y_m for n in nodes) / len(nodes),
            "movements": len(inter.movements), "lane_groups": len(inter.lane_groups)}


@router.get("/intersections")
def list_intersections(ctx: Ctx, _: Viewer) -> list[dict[str, Any]]:
    """Every intersection of the managed scenario, with its position for the map."""
    return [_summary(ctx, iid) for iid in ctx.scenario.intersections]


@router.get("/intersections/{iid}")
def get_intersection(iid: str, ctx: Ctx, _: Viewer) -> dict[str, Any]:
    """Movements, lane groups and approaches of one intersection."""
    _check(ctx, iid)
    inter = ctx.scenario.intersections[iid]
    return {**_summary(ctx, iid),
            "movement_list": [{"id": m.id, "from_link": m.from_link, "to_link": m.to_link, "turn": str(m.turn)}
                              for m in inter.movements.values()],
            "lane_group_list": [{"id": g.id, "approach": g.approach, "lanes": g.num_lanes,
                                 "movements": list(g.movements)} for g in inter.lane_groups]}


@router.get("/intersections/{iid}/status", responses=STATUS_DOC, response_class=JSONResponse)
async def intersection_status(iid: str, ctx: Ctx, _: Viewer) -> JSONResponse:
    """Live status (served from memory: no database access)."""
    _check(ctx, iid)
    body = ctx.live.status(iid, ctx.now())
    return JSONResponse(body, headers={"ETag": control.intersection_etag(ctx, iid)})


@router.get("/status", responses=STATUS_DOC, response_class=JSONResponse)
async def all_status(ctx: Ctx, _: Viewer) -> JSONResponse:
    """Live status of every intersection (the dashboard's map)."""
    now = ctx.now()
    return JSONResponse([ctx.live.status(iid, now) for iid in ctx.scenario.intersections])


@router.put("/intersections/{iid}/mode", response_model=ModeOut,
            responses={409: {"description": "concurrent change"}, 412: {"description": "stale If-Match"}})
def put_mode(iid: str, body: ModeIn, ctx: Ctx, db: DB, who: Operator,
             if_match: Annotated[str | None, Header()] = None) -> dict[str, Any]:
    """Set the controller mode (adaptive, fixed, failsafe, manual); If-Match: ``"m<mode_version>"``."""
    _check(ctx, iid)
    return control.set_mode(ctx, db, iid, body.mode, who.name, if_match)


@router.get("/corridor")
def corridor(ctx: Ctx, request: Request, _: Viewer) -> dict[str, Any]:
    """The arterial's signals in order with distances and, per signal, the plan in force and the green
    windows (cycle positions) of the two through directions: what a time-space diagram needs."""
    cached = getattr(request.app.state, "corridor", None)
    if cached is None:
        cached = request.app.state.corridor = _build_corridor(ctx)
    if cached.get("intersections") is None:
        return {"intersections": [], "note": cached.get("note", "")}
    now = ctx.now()
    rows = []
    for iid, pos, out_m, in_m in zip(cached["intersections"], cached["positions_m"], cached["outbound"],
                                     cached["inbound"], strict=True):
        rec, _pending = ctx.live.in_force(iid, now)
        rows.append({"intersection": iid, "position_m": pos, "plan": rec.name, "cycle_s": rec.plan.cycle_s,
                     "offset_s": rec.plan.offset_s, "outbound": _windows(rec.plan, out_m),
                     "inbound": _windows(rec.plan, in_m)})
    return {"intersections": rows, "speed_m_s": cached["speed_m_s"], "now_s": now}


def _windows(plan: Any, movement: str) -> list[list[float]]:
    out: list[list[float]] = []
    pos = 0.0
    for index, kind, dur in plan.intervals():
        if plan.phases[index].state_of(movement, kind) in "Gg":
            out.append([pos, pos + dur])
        pos += dur
    return out


def _build_corridor(ctx: Ctx) -> dict[str, Any]:
    if len(ctx.scenario.intersections) < 2:
        return {"intersections": None, "note": "one signal: no corridor"}
    from signal_control.corridor import build_corridor, find_corridor
    from signal_control.errors import OptimizerError
    from signal_control.movement_demand import movement_demand

    try:
        nodes = find_corridor(ctx.scenario, movement_demand(ctx.scenario, None))
        cor = build_corridor(ctx.scenario, nodes)
    except OptimizerError as exc:
        return {"intersections": None, "note": str(exc)}
    total_m = cor.positions_m[-1] if cor.positions_m else 0.0
    total_s = sum(cor.out_link_s) or 1.0
    return {"intersections": list(cor.intersections), "positions_m": list(cor.positions_m),
            "outbound": list(cor.outbound), "inbound": list(cor.inbound), "speed_m_s": total_m / total_s}
