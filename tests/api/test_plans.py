"""Signal plans: propose, validate, edit with optimistic concurrency, activate, roll back, schedule, mode."""

from __future__ import annotations

import threading

from tests.api.conftest import plan_body

BASE = "/api/v1/intersections/I1"


def status(api):
    return api.client.get(f"{BASE}/status", headers=api.as_("viewer")).json()


def test_list_and_get_plans_with_etag(api_any_db):
    api = api_any_db
    r = api.client.get(f"{BASE}/plans", headers=api.as_("viewer"))
    assert r.status_code == 200
    names = {p["name"]: p for p in r.json()}
    assert set(names) == {"0", "greenwave", "zero"} and names["zero"]["active"]
    r = api.client.get(f"{BASE}/plans/zero", headers=api.as_("viewer"))
    assert r.status_code == 200 and r.headers["etag"] == '"1"' and r.json()["cycle_s"] == 90.0
    assert api.client.get(f"{BASE}/plans/nope", headers=api.as_("viewer")).status_code == 404
    assert api.client.get("/api/v1/intersections/XX/plans", headers=api.as_("viewer")).status_code == 404
    assert api.client.get(f"{BASE}/plans/zero?version=7", headers=api.as_("viewer")).status_code == 404


def test_propose_safe_plan(api_any_db):
    api = api_any_db
    r = api.client.post(f"{BASE}/plans", json=plan_body("wave2"), headers=api.as_("engineer"))
    assert r.status_code == 201, r.text
    assert r.json()["version"] == 1 and not r.json()["active"] and r.headers["etag"] == '"1"'
    again = api.client.post(f"{BASE}/plans", json=plan_body("wave2"), headers=api.as_("engineer"))
    assert again.status_code == 409


def test_unsafe_plan_is_rejected_and_changes_nothing(api_any_db):
    api = api_any_db
    before_plans = api.client.get(f"{BASE}/plans", headers=api.as_("viewer")).json()
    before_status = status(api)
    body = plan_body("bad", main_green_s=2.0)  # below the 5 s minimum green
    body["phases"][1]["protected"].append("W_I1>I1_I2")  # a main-street through during the side phase
    r = api.client.post(f"{BASE}/plans", json=body, headers=api.as_("engineer"))
    assert r.status_code == 422
    issues = r.json()["issues"]
    assert any("phase 0 'MAIN_green'" in i and "green" in i for i in issues)
    assert any("phase 1 'SIDE_green'" in i and "W_I1>I1_I2" in i for i in issues)
    assert api.client.get(f"{BASE}/plans", headers=api.as_("viewer")).json() == before_plans
    after = status(api)
    assert after["plan"] == before_status["plan"] and after["pending"] is None


def test_malformed_plan_is_422_without_trace(api):
    body = plan_body("nan")
    body["phases"][0]["green_s"] = -1
    r = api.client.post(f"{BASE}/plans", json=body, headers=api.as_("engineer"))
    assert r.status_code == 422 and "Traceback" not in r.text
    body = plan_body("unknown")
    body["phases"][0]["protected"].append("nope")
    r = api.client.post(f"{BASE}/plans", json=body, headers=api.as_("engineer"))
    assert r.status_code == 422 and any("nope" in i for i in r.json()["issues"])


def test_edit_needs_current_if_match(api_any_db):
    api = api_any_db
    eng = api.as_("engineer")
    api.client.post(f"{BASE}/plans", json=plan_body("wave2"), headers=eng)
    r = api.client.put(f"{BASE}/plans/wave2", json=plan_body("wave2", 42), headers=eng)
    assert r.status_code == 428
    r = api.client.put(f"{BASE}/plans/wave2", json=plan_body("wave2", 42), headers={**eng, "If-Match": '"1"'})
    assert r.status_code == 200 and r.json()["version"] == 2 and r.headers["etag"] == '"2"'
    stale = api.client.put(f"{BASE}/plans/wave2", json=plan_body("wave2", 44), headers={**eng, "If-Match": '"1"'})
    assert stale.status_code == 412
    assert api.client.get(f"{BASE}/plans/wave2", headers=eng).json()["phases"][0]["green_s"] == 42
    assert api.client.put(f"{BASE}/plans/other", json=plan_body("wave2"),
                          headers={**eng, "If-Match": '"1"'}).status_code == 422
    assert api.client.put(f"{BASE}/plans/ghost", json=plan_body("ghost"),
                          headers={**eng, "If-Match": '"1"'}).status_code == 404


def test_two_operators_editing_at_once_cannot_both_win(api_any_db):
    api = api_any_db
    eng = api.as_("engineer")
    api.client.post(f"{BASE}/plans", json=plan_body("wave2"), headers=eng)
    results: list[int] = []
    barrier = threading.Barrier(4)

    def edit(green: float) -> None:
        barrier.wait()
        r = api.client.put(f"{BASE}/plans/wave2", json=plan_body("wave2", green), headers={**eng, "If-Match": '"1"'})
        results.append(r.status_code)

    threads = [threading.Thread(target=edit, args=(40.0 + i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results).count(200) == 1 and all(c in (200, 409, 412) for c in results), results
    versions = api.client.get(f"{BASE}/plans/wave2", headers=eng).json()["version"]
    assert versions == 2


def test_activation_takes_effect_at_the_next_cycle_boundary(api_any_db):
    api = api_any_db
    api.client.post(f"{BASE}/plans", json=plan_body("wave2"), headers=api.as_("engineer"))
    api.clock.advance(30.0)  # 30 s into the 90 s cycle of 'zero'
    r = api.client.post(f"{BASE}/plans/wave2/activate", headers=api.as_("operator"))
    assert r.status_code == 202, r.text
    assert r.json()["effective_at_s"] == api.clock.t + 60.0
    st = status(api)
    assert st["plan"]["name"] == "zero" and st["pending"]["plan"] == "wave2"
    api.clock.advance(59.9)
    assert status(api)["plan"]["name"] == "zero"
    api.clock.advance(0.2)
    st = status(api)
    assert st["plan"]["name"] == "wave2" and st["pending"] is None and st["time_in_cycle_s"] < 1.0


def test_rollback_returns_to_the_previous_plan(api_any_db):
    api = api_any_db
    op = api.as_("operator")
    assert api.client.post(f"{BASE}/rollback", headers=op).status_code == 409  # nothing before 'zero'
    api.client.post(f"{BASE}/plans/greenwave/activate", headers=op)
    api.clock.advance(90.0)
    assert status(api)["plan"]["name"] == "greenwave"
    r = api.client.post(f"{BASE}/rollback", headers=op)
    assert r.status_code == 202 and r.json()["plan"] == "zero"
    api.clock.advance(90.0)
    assert status(api)["plan"]["name"] == "zero"


def test_activation_if_match_detects_a_concurrent_activation(api):
    op = api.as_("operator")
    etag = api.client.get(f"{BASE}/status", headers=op).headers["etag"]
    assert api.client.post(f"{BASE}/plans/greenwave/activate", headers={**op, "If-Match": etag}).status_code == 202
    r = api.client.post(f"{BASE}/plans/0/activate", headers={**op, "If-Match": etag})
    assert r.status_code == 412
    assert api.client.post(f"{BASE}/plans/nope/activate", headers=op).status_code == 404
    assert api.client.post(f"{BASE}/plans/zero/activate", json={"version": 9}, headers=op).status_code == 404


def test_mode_changes_with_optional_if_match(api_any_db):
    api = api_any_db
    op = api.as_("operator")
    r = api.client.put(f"{BASE}/mode", json={"mode": "manual"}, headers=op)
    assert r.status_code == 200 and r.json() == {"intersection": "I1", "mode": "manual", "version": 2}
    assert status(api)["mode"] == "manual"
    assert api.client.put(f"{BASE}/mode", json={"mode": "fixed"}, headers={**op, "If-Match": '"m1"'}).status_code == 412
    assert api.client.put(f"{BASE}/mode", json={"mode": "fixed"}, headers={**op, "If-Match": '"m2"'}).status_code == 200
    assert api.client.put(f"{BASE}/mode", json={"mode": "turbo"}, headers=op).status_code == 422


def test_schedule_roundtrip_and_application(api):
    eng = api.as_("engineer")
    r = api.client.get(f"{BASE}/schedule", headers=eng)
    assert r.status_code == 200 and r.json()["entries"] == [] and r.headers["etag"] == '"s0"'
    entries = [{"start": "00:00", "plan": "greenwave"}]
    assert api.client.put(f"{BASE}/schedule", json={"entries": entries}, headers=eng).status_code == 428
    r = api.client.put(f"{BASE}/schedule", json={"entries": entries}, headers={**eng, "If-Match": '"s0"'})
    assert r.status_code == 200 and r.json()["version"] == 1
    assert api.client.put(f"{BASE}/schedule", json={"entries": entries},
                          headers={**eng, "If-Match": '"s0"'}).status_code == 412
    bad = [{"start": "07:00", "plan": "ghost"}]
    assert api.client.put(f"{BASE}/schedule", json={"entries": bad},
                          headers={**eng, "If-Match": '"s1"'}).status_code == 422
    from api.control import apply_schedules

    api.clock.advance(10.0)
    apply_schedules(api.ctx)  # I1 is in fixed mode: the schedule activates greenwave at the boundary
    assert status(api)["pending"]["plan"] == "greenwave"
    audit = api.client.get("/api/v1/audit?action=schedule", headers=eng).json()
    assert audit and audit[0]["actor"] == "schedule"


def test_plan_with_a_permissive_side_street_through_is_refused(api):
    """The issue's ``rgrGGGgrgrGGGg`` at I1: the side street's throughs shown g during the arterial's protected
    green cross it from the side; a permissive green does not make that safe (the compatibility rule)."""
    body = plan_body("side_g")
    body["phases"][0]["permissive"] += ["N1_I1>I1_S1", "S1_I1>I1_N1"]
    r = api.client.post(f"{BASE}/plans", json=body, headers=api.as_("engineer"))
    assert r.status_code == 422, r.text
    issues = r.json()["issues"]
    assert any("phase 0 'MAIN_green'" in i and "'N1_I1>I1_S1'" in i and "'W_I1>I1_I2'" in i for i in issues), issues
    names = {p["name"] for p in api.client.get(f"{BASE}/plans", headers=api.as_("viewer")).json()}
    assert "side_g" not in names
