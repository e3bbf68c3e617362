"""The live control loop: modes take effect, the adaptive controller runs on the counts posted, camera faults
send an intersection to failsafe with an alarm, and the loop's state survives a restart."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from api import store
from api.db import Activation, AuditEntry, Plan
from api.routes.admin import create_camera
from tests.api.conftest import T0, FakeClock, fresh_db_url, start_api
from traffic.plan_validation import validate_plan

INTERVAL_S = 300.0
IIDS = ("I1", "I2", "I3", "I4", "I5", "I6")


def start(db_url: str, clock: FakeClock):
    """An app whose loop is stepped by the test (no thread), and a camera key per intersection."""
    gen = start_api(db_url, clock, loop_poll_s=0.0)
    api = next(gen)
    keys = {}
    with api.ctx.sessions() as db:
        for iid in IIDS:
            cam = create_camera(api.ctx, db, f"loop-{iid}-{uuid.uuid4().hex[:4]}", iid, "test")
            keys[iid] = (cam["id"], cam["api_key"])
    return gen, api, keys


@pytest.fixture
def loop(tmp_path, clock):
    gen, api, keys = start(fresh_db_url("sqlite", tmp_path), clock)
    yield api, keys
    gen.close()


def side_heavy_counts(iid: str, api) -> dict:
    """Five minutes of counts at ``iid``: the side streets' throughs carry 720 veh/h, the arterial 120 veh/h."""
    out = {}
    for m, mv in api.ctx.scenario.intersections[iid].movements.items():
        side = m.split(">")[0].startswith(("N", "S"))
        out[m] = {"car": (60 if side else 10) if str(mv.turn) == "s" else 5}
    return out


def push(api, keys, j: int, skip=(), health: str = "ok") -> None:
    """Counts of interval ``j`` (from T0 + j * 300 s) from every camera but those at ``skip``; the clock moves
    to just after the interval."""
    start_s = T0 + j * INTERVAL_S
    api.clock.t = max(api.clock.t, start_s + INTERVAL_S + 1.0)
    for iid in IIDS:
        if iid in skip:
            continue
        camera, key = keys[iid]
        body = {"camera": camera, "batch_id": f"{iid}-{j}", "intervals": [
            {"start_s": start_s, "duration_s": INTERVAL_S, "health": health, "counts": side_heavy_counts(iid, api)}]}
        r = api.client.post("/api/v1/counts", json=body, headers={"X-API-Key": key})
        assert r.status_code in (200, 201), r.text


def set_mode(api, iid: str, mode: str) -> None:
    r = api.client.put(f"/api/v1/intersections/{iid}/mode", json={"mode": mode}, headers=api.as_("operator"))
    assert r.status_code == 200, r.text


def status(api, iid: str) -> dict:
    return api.client.get(f"/api/v1/intersections/{iid}/status", headers=api.as_("viewer")).json()


def controller_activations(api, iid: str) -> list[Activation]:
    with api.ctx.sessions() as db:
        return list(db.scalars(select(Activation).where(Activation.intersection == iid,
                                                        Activation.actor == "controller").order_by(Activation.id)))


def assert_every_activation_safe(api) -> None:
    """No plan that fails the safety rules was ever put in force (every activation, and every plan an audited
    activation names)."""
    inters = api.ctx.scenario.intersections
    with api.ctx.sessions() as db:
        plan_ids = {a.plan_id for a in db.scalars(select(Activation))}
        for entry in db.scalars(select(AuditEntry).where(AuditEntry.action == "activate")):
            after = store.audit_json(entry)["after"]
            if "plan_id" in after:
                plan_ids.add(after["plan_id"])
        assert plan_ids
        for pid in plan_ids:
            row = db.get(Plan, pid)
            assert row is not None
            assert validate_plan(store.plan_of(row), inters[row.intersection], api.ctx.settings.rules) == [], row.name


def run_intervals(api, keys, js, skip=()) -> list:
    out = []
    for j in js:
        push(api, keys, j, skip=skip)
        out += api.ctx.loop.step()
    return out


def test_adaptive_mode_puts_the_controllers_plan_in_force_at_the_next_boundary(loop):
    api, keys = loop
    for iid in IIDS:
        set_mode(api, iid, "adaptive")
    first = run_intervals(api, keys, [0, 1])
    assert [d.applied for d in first] == [{}, {}]  # 900 s of counts are needed before the first plan
    push(api, keys, 2)
    now = api.clock.t
    boundary = now + 90.0 - (now % 90.0)  # the cycle of the plan in force ('zero', 90 s, offset 0) ends
    (decision,) = api.ctx.loop.step()
    assert set(decision.applied) == set(IIDS) and decision.applied["I1"][-1] == "adaptive"
    acts = controller_activations(api, "I1")
    assert acts and acts[0].effective_at == pytest.approx(boundary) and acts[0].requested_at == now
    assert status(api, "I1")["pending"]["plan"] == "adaptive"
    audit = api.client.get("/api/v1/audit?action=activate", headers=api.as_("engineer")).json()
    mine = [e for e in audit if e["target"] == "intersection/I1" and e["actor"] == "controller"]
    assert len(mine) == len(acts) and mine[-1]["after"]["effective_at_s"] == pytest.approx(boundary)
    # the side streets carry six times the arterial's flow: the controller's plan gives them the longer green
    plan = api.client.get("/api/v1/intersections/I1/plans/adaptive", headers=api.as_("viewer")).json()
    main, side = (p["green_s"] for p in plan["phases"])
    assert side > 2 * main
    api.clock.t = max(a.effective_at for a in acts) + 1.0
    st = status(api, "I1")
    assert st["plan"]["name"] == "adaptive" and st["pending"] is None and st["effective_mode"] == "adaptive"
    assert_every_activation_safe(api)


def test_each_interval_is_decided_once(loop):
    api, keys = loop
    decisions = run_intervals(api, keys, [0, 1, 2])
    push(api, keys, 2)  # a resend of an interval already decided
    api.clock.advance(3600.0)
    later = api.ctx.loop.step()  # nothing arrived since: up to three empty intervals, never interval 2 again
    assert [d.interval_start_s for d in decisions] == [T0, T0 + 300, T0 + 600]
    assert all(d.interval_start_s > T0 + 600 for d in later) and len(later) <= 4


def test_a_backlog_is_not_decided_interval_by_interval(loop):
    """Counts of the last hour arriving at once (a camera catching up): only the last three intervals are decided."""
    api, keys = loop
    api.clock.t = T0 + 12 * INTERVAL_S + 1.0
    for j in range(12):
        push(api, keys, j)
    decisions = api.ctx.loop.step()
    assert [d.interval_start_s for d in decisions] == [T0 + j * INTERVAL_S for j in (9, 10, 11)]


def test_manual_mode_holds_the_operators_plan(loop):
    api, keys = loop
    for iid in IIDS:
        set_mode(api, iid, "adaptive")
    set_mode(api, "I2", "manual")
    r = api.client.post("/api/v1/intersections/I2/plans/greenwave/activate", json={}, headers=api.as_("operator"))
    assert r.status_code == 202, r.text
    decisions = run_intervals(api, keys, [0, 1, 2, 3, 4])
    assert any("I1" in d.applied for d in decisions)  # the controller acts at its neighbours
    assert all("I2" not in d.applied for d in decisions) and any(d.held.get("I2") == "mode manual" for d in decisions)
    assert controller_activations(api, "I2") == []
    api.clock.advance(600.0)
    assert status(api, "I2")["plan"]["name"] == "greenwave"
    # back to adaptive: the controller's plan for I2 takes over at the end of the cycle in progress
    now = api.clock.t
    set_mode(api, "I2", "adaptive")
    acts = controller_activations(api, "I2")
    assert acts and acts[0].effective_at - now <= 90.0 and status(api, "I2")["pending"]["plan"] == "adaptive"
    assert_every_activation_safe(api)


def test_fixed_mode_never_gets_controller_plans(loop):
    api, keys = loop
    set_mode(api, "I1", "adaptive")
    run_intervals(api, keys, [0, 1, 2, 3])
    assert controller_activations(api, "I1") and all(controller_activations(api, i) == [] for i in IIDS[1:])


def test_a_camera_that_stops_sends_its_intersection_to_failsafe_with_an_alarm(loop):
    api, keys = loop
    for iid in IIDS:
        set_mode(api, iid, "adaptive")
    run_intervals(api, keys, [0, 1, 2])
    assert controller_activations(api, "I3")
    # I3's camera stops: its counts are missing once the interval is over (plus the grace)
    push(api, keys, 3, skip=("I3",))
    assert api.ctx.loop.step() == []  # the interval is not over for I3 yet
    api.clock.advance(api.ctx.settings.loop_grace_s)
    (d3,) = api.ctx.loop.step()
    assert d3.mode_changes == {"I3": "failsafe"}
    st = status(api, "I3")
    assert st["mode"] == "adaptive" and st["effective_mode"] == "failsafe" and st["controller"]["mode"] == "failsafe"
    assert "counts missing" in st["controller"]["reason"]
    acts = controller_activations(api, "I3")
    assert acts[-1].kind == "failsafe"
    assert st["pending"]["plan"] == "zero"  # the time-of-day plan (the scenario's), at the next boundaries
    alarms = api.client.get("/api/v1/alarms?open_only=true", headers=api.as_("viewer")).json()
    (alarm,) = [a for a in alarms if a["intersection"] == "I3"]
    assert alarm["kind"] == "failsafe" and alarm["active"] and alarm["acknowledged_at"] is None
    # still silent a second interval: stays in failsafe, one alarm
    push(api, keys, 4, skip=("I3",))
    api.clock.advance(api.ctx.settings.loop_grace_s)
    (d4,) = api.ctx.loop.step()
    assert d4.mode_changes == {} and "I3" not in d4.applied
    assert len([a for a in api.client.get("/api/v1/alarms", headers=api.as_("viewer")).json()
                if a["intersection"] == "I3"]) == 1
    # acknowledged by an operator (audited), once
    r = api.client.post(f"/api/v1/alarms/{alarm['id']}/acknowledge", headers=api.as_("operator"))
    assert r.status_code == 200 and r.json()["acknowledged_by"] == "operator"
    assert api.client.post(f"/api/v1/alarms/{alarm['id']}/acknowledge",
                           headers=api.as_("operator")).status_code == 409
    assert api.client.post(f"/api/v1/alarms/{alarm['id']}/acknowledge", headers=api.as_("viewer")).status_code == 403
    assert api.client.post("/api/v1/alarms/999999/acknowledge", headers=api.as_("operator")).status_code == 404
    ack = api.client.get("/api/v1/audit?action=alarm_ack", headers=api.as_("engineer")).json()
    assert ack and ack[0]["actor"] == "operator" and ack[0]["target"] == f"alarm/{alarm['id']}"
    # the camera is back: two healthy intervals, and the controller takes I3 back
    (d5,) = run_intervals(api, keys, [5])
    assert d5.mode_changes == {}
    (d6,) = run_intervals(api, keys, [6])
    assert d6.mode_changes == {"I3": "adaptive"}
    st = status(api, "I3")
    assert st["effective_mode"] == "adaptive" and st["controller"]["mode"] == "adaptive"
    (alarm,) = [a for a in api.client.get("/api/v1/alarms", headers=api.as_("viewer")).json()
                if a["intersection"] == "I3"]
    assert not alarm["active"] and alarm["cleared_at"] is not None
    modes = api.client.get("/api/v1/audit?action=controller_mode", headers=api.as_("engineer")).json()
    assert [(e["actor"], e["after"]["mode"]) for e in reversed(modes)] == [("controller", "failsafe"),
                                                                           ("controller", "adaptive")]
    assert_every_activation_safe(api)


def test_no_alarm_where_bad_data_changes_nothing(tmp_path, clock):
    """Only I1 has a camera: the other intersections, in fixed mode, have no data, and need no alarm; an
    operator who puts one of them in adaptive gets its time-of-day plan and the alarm."""
    gen = start_api(fresh_db_url("sqlite", tmp_path), clock, loop_poll_s=0.0)
    api = next(gen)
    try:
        camera = next(c for c, i in api.ctx.live.cameras.items() if i == "I1")
        body = {"camera": camera, "batch_id": "b0", "intervals": [
            {"start_s": T0, "duration_s": INTERVAL_S, "health": "ok", "counts": side_heavy_counts("I1", api)}]}
        api.clock.t = T0 + INTERVAL_S + 1.0
        assert api.client.post("/api/v1/counts", json=body, headers={"X-API-Key": api.camera_key}).status_code == 201
        (d,) = api.ctx.loop.step()  # every intersection with a camera has sent its counts
        assert set(d.mode_changes) == set(IIDS) - {"I1"}
        assert api.client.get("/api/v1/alarms", headers=api.as_("viewer")).json() == []
        set_mode(api, "I2", "adaptive")
        st = status(api, "I2")
        assert st["effective_mode"] == "failsafe" and st["pending"] is None  # it runs its time-of-day plan already
        (alarm,) = api.client.get("/api/v1/alarms", headers=api.as_("viewer")).json()
        assert alarm["intersection"] == "I2" and "counts missing" in alarm["message"]
    finally:
        gen.close()


def test_bad_camera_health_is_failsafe_too(loop):
    api, keys = loop
    set_mode(api, "I1", "adaptive")
    push(api, keys, 0, skip=("I1",))
    camera, key = keys["I1"]
    body = {"camera": camera, "batch_id": "frozen", "intervals": [
        {"start_s": T0, "duration_s": INTERVAL_S, "health": "frozen", "counts": side_heavy_counts("I1", api)}]}
    assert api.client.post("/api/v1/counts", json=body, headers={"X-API-Key": key}).status_code == 201
    (d,) = api.ctx.loop.step()
    assert d.mode_changes["I1"] == "failsafe" and "frozen" in status(api, "I1")["controller"]["reason"]


def test_an_unsafe_controller_plan_is_refused_with_an_alarm(loop):
    api, keys = loop
    set_mode(api, "I1", "adaptive")
    ctl = api.ctx.loop.controller()
    zero = api.ctx.scenario.plans["I1"]["zero"]
    unsafe = zero.with_greens([1.0, 30.0])  # below the minimum green

    def decide(now_s, counts, signals):
        return {"I1": [unsafe]}

    ctl.decide = decide
    (d,) = run_intervals(api, keys, [0])
    assert "I1" not in d.applied and controller_activations(api, "I1") == []
    alarms = api.client.get("/api/v1/alarms?intersection=I1", headers=api.as_("viewer")).json()
    assert alarms[0]["kind"] == "plan_refused" and alarms[0]["active"]
    assert_every_activation_safe(api)


def test_operator_failsafe_runs_the_time_of_day_plan_within_a_cycle(loop):
    api, _ = loop
    op = api.as_("operator")
    assert api.client.post("/api/v1/intersections/I1/plans/greenwave/activate", json={},
                           headers=op).status_code == 202
    api.clock.advance(200.0)
    assert status(api, "I1")["plan"]["name"] == "greenwave"
    set_mode(api, "I1", "failsafe")
    pending = status(api, "I1")["pending"]
    assert pending["plan"] == "zero" and pending["effective_at_s"] - api.clock.t <= 90.0


@pytest.mark.parametrize("mode", ["turbo", "Adaptive", "", "adaptive ", 3, None, ["manual"]])
def test_bad_mode_names_are_4xx(api, mode):
    r = api.client.put("/api/v1/intersections/I1/mode", json={"mode": mode}, headers=api.as_("operator"))
    assert r.status_code == 422 and "Traceback" not in r.text
    assert api.client.put("/api/v1/intersections/I1/mode", content=b"{", headers={
        **api.as_("operator"), "Content-Type": "application/json"}).status_code == 422
    assert api.client.put("/api/v1/intersections/XX/mode", json={"mode": "manual"},
                          headers=api.as_("operator")).status_code == 404


def test_alarm_listing_checks_its_inputs(api):
    assert api.client.get("/api/v1/alarms?intersection=XX", headers=api.as_("viewer")).status_code == 404
    assert api.client.get("/api/v1/alarms?limit=0", headers=api.as_("viewer")).status_code == 422
    assert api.client.post("/api/v1/alarms/0/acknowledge", headers=api.as_("operator")).status_code == 422
    assert api.client.get("/api/v1/alarms").status_code == 401


def test_the_loop_resumes_from_stored_state_after_a_restart(tmp_path, clock):
    url = fresh_db_url("sqlite", tmp_path)
    gen, api, keys = start(url, clock)
    for iid in IIDS:
        set_mode(api, iid, "adaptive")
    run_intervals(api, keys, [0, 1, 2])
    push(api, keys, 3, skip=("I3",))
    api.clock.advance(api.ctx.settings.loop_grace_s)
    api.ctx.loop.step()
    push(api, keys, 4)  # stored, not yet decided when the server dies
    with api.ctx.sessions() as db:
        before = [(a.id, a.plan_id, a.effective_at) for a in db.scalars(select(Activation))]
    gen.close()

    gen, api, _ = start(url, clock)
    try:
        assert api.ctx.loop.last_bucket == int(T0 / INTERVAL_S) + 3
        st = status(api, "I3")
        assert st["effective_mode"] == "failsafe" and st["controller"]["mode"] == "failsafe"
        assert [a["kind"] for a in api.client.get("/api/v1/alarms?open_only=true",
                                                  headers=api.as_("viewer")).json()] == ["failsafe"]
        with api.ctx.sessions() as db:
            assert [(a.id, a.plan_id, a.effective_at) for a in db.scalars(select(Activation))] == before
        # interval 4 (counts stored before the restart) is decided now, once; nothing decided before again
        (d4,) = api.ctx.loop.step()
        assert d4.interval_start_s == T0 + 4 * INTERVAL_S
        assert api.ctx.loop.controller().modes["I3"] == "failsafe"  # one healthy interval is not enough
        assert api.ctx.loop.step() == []
        with api.ctx.sessions() as db:
            acts = list(db.scalars(select(Activation)))
        assert [(a.id, a.plan_id, a.effective_at) for a in acts[:len(before)]] == before
        new = acts[len(before):]
        assert len({(a.intersection, a.plan_id, a.effective_at) for a in new}) == len(new)
        assert_every_activation_safe(api)
    finally:
        gen.close()
