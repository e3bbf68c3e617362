// Greenwave operator dashboard: plain JavaScript, no external resources (works offline).
"use strict";
const API = "/api/v1";
const LOS_COLOR = {A: "#1a9641", B: "#6cbf4b", C: "#c4d92e", D: "#f7b733", E: "#f06b2a", F: "#c8102e"};
const ROLES = ["viewer", "operator", "engineer", "admin"];
const S = {token: sessionStorage.getItem("gw_token"), me: null, inters: [], status: {}, sel: null,
           queueHist: {}, ws: null, corridor: null};
const $ = (id) => document.getElementById(id);
const svgNS = "http://www.w3.org/2000/svg";

async function api(path, opts = {}) {
  const headers = Object.assign({}, opts.headers || {});
  if (S.token) headers["Authorization"] = "Bearer " + S.token;
  if (opts.json !== undefined) { headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(opts.json); }
  const r = await fetch(API + path, {method: opts.method || "GET", headers, body: opts.body});
  if (r.status === 401) { logout(); throw new Error("session expired"); }
  const body = r.headers.get("content-type")?.includes("json") ? await r.json() : await r.text();
  if (!r.ok) throw new Error((body && body.detail) ? JSON.stringify(body.detail) + (body.issues ? ": " + body.issues.join("; ") : "") : r.status);
  return {body, headers: r.headers};
}

function el(tag, attrs = {}, parent = null, ns = null) {
  const e = ns ? document.createElementNS(ns, tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) { if (k === "text") e.textContent = v; else e.setAttribute(k, v); }
  if (parent) parent.appendChild(e);
  return e;
}

async function login(ev) {
  ev.preventDefault();
  $("login-error").textContent = "";
  const form = new URLSearchParams({username: $("login-user").value, password: $("login-pass").value});
  const r = await fetch(API + "/auth/token", {method: "POST", body: form});
  if (!r.ok) {
    $("login-error").textContent = r.status === 429
      ? "Too many attempts: try again in " + (r.headers.get("Retry-After") || "a few") + " s" : "Login failed";
    return;
  }
  S.token = (await r.json()).access_token;
  sessionStorage.setItem("gw_token", S.token);
  start();
}

function logout() {
  // end the session on the server too (a token that is already invalid just gets 401)
  if (S.token) fetch(API + "/auth/logout", {method: "POST", headers: {"Authorization": "Bearer " + S.token}}).catch(() => {});
  S.token = null; sessionStorage.removeItem("gw_token");
  if (S.ws) S.ws.close();
  $("app-view").hidden = true; $("login-view").hidden = false; $("logout").hidden = true; $("who").textContent = "";
}

async function start() {
  try { S.me = (await api("/auth/me")).body; } catch (e) { logout(); return; }
  $("login-view").hidden = true; $("app-view").hidden = false; $("logout").hidden = false;
  $("who").textContent = S.me.name + " (" + S.me.role + ")";
  const canOperate = ROLES.indexOf(S.me.role) >= 1;
  document.querySelectorAll(".op").forEach((b) => { b.disabled = !canOperate; });
  S.inters = (await api("/intersections")).body;
  S.sel = S.sel || (S.inters[0] && S.inters[0].id);
  await refreshAll();
  connectFeed();
  setInterval(refreshAll, 5000);
  setInterval(tickLocal, 250);
}

async function refreshAll() {
  const all = (await api("/status")).body;
  for (const st of all) { S.status[st.intersection] = Object.assign({_t: performance.now()}, st); pushQueue(st); }
  drawMap(); await refreshPanel(); refreshAudit(); refreshAlarms(); drawTsd();
}

function pushQueue(st) {
  const q = st.lane_groups.reduce((a, g) => a + (g.queue_veh || 0), 0);
  const h = S.queueHist[st.intersection] = S.queueHist[st.intersection] || [];
  h.push(q); if (h.length > 60) h.shift();
}

async function refreshStatus(iid) {
  const {body} = await api("/intersections/" + encodeURIComponent(iid) + "/status");
  S.status[iid] = Object.assign({_t: performance.now()}, body); pushQueue(body);
  drawMap(); if (iid === S.sel) renderPanel();
}

function drawMap() {
  const svg = $("map"); svg.innerHTML = "";
  const xs = S.inters.map((i) => i.x_m), ys = S.inters.map((i) => i.y_m);
  const minX = Math.min(...xs), maxX = Math.max(...xs), minY = Math.min(...ys), maxY = Math.max(...ys);
  const sx = (x) => 40 + (maxX > minX ? (x - minX) / (maxX - minX) * 720 : 360);
  const sy = (y) => 260 - (maxY > minY ? (y - minY) / (maxY - minY) * 220 : 110);
  const r = Math.max(5, Math.min(18, 300 / Math.sqrt(S.inters.length + 1)));
  for (const i of S.inters) {
    const st = S.status[i.id] || {};
    const g = el("g", {class: "node", "data-id": i.id, cursor: "pointer"}, svg, svgNS);
    el("circle", {cx: sx(i.x_m), cy: sy(i.y_m), r, fill: LOS_COLOR[st.los] || "#9aa5b1",
                  stroke: i.id === S.sel ? "#000" : "#fff", "stroke-width": 3}, g, svgNS);
    el("text", {x: sx(i.x_m), y: sy(i.y_m) - r - 4, "text-anchor": "middle", "font-size": 12, text: i.id}, g, svgNS);
    g.addEventListener("click", () => { S.sel = i.id; drawMap(); refreshPanel(); });
  }
}

async function refreshPanel() {
  if (!S.sel) return;
  renderPanel();
  const plans = (await api("/intersections/" + encodeURIComponent(S.sel) + "/plans")).body;
  const canOperate = ROLES.indexOf(S.me.role) >= 1;
  // Rebuild the list only when it changed, so that a button is never replaced under the operator's click.
  const sig = JSON.stringify([S.sel, canOperate, plans.map((p) => [p.name, p.version, p.cycle_s, p.active])]);
  const ul = $("plans"); if (ul.dataset.sig === sig) return;
  ul.dataset.sig = sig; ul.innerHTML = "";
  for (const p of plans) {
    const li = el("li", {}, ul);
    el("span", {text: `${p.name} v${p.version} (cycle ${p.cycle_s} s) `}, li);
    if (p.active) el("b", {text: " in force"}, li);
    else { const b = el("button", {class: "activate", "data-plan": p.name, text: "Activate"}, li);
           b.disabled = !canOperate; b.addEventListener("click", () => activate(p.name, p.version)); }
  }
}

function renderPanel() {
  const st = S.status[S.sel]; if (!st) return;
  $("sel-id").textContent = S.sel;
  $("plan-name").textContent = `${st.plan.name} v${st.plan.version}`;
  $("pending").textContent = st.pending ? `(next: ${st.pending.plan} v${st.pending.version} at cycle end)` : "";
  $("mode").textContent = st.mode;
  $("effective-mode").textContent = st.effective_mode && st.effective_mode !== st.mode
    ? `(running ${st.effective_mode}: ${st.controller.reason})` : "";
  $("cameras").textContent = st.cameras.length ? st.cameras.map((c) => `${c.camera}: ${c.health}`).join(", ") : "none";
  tickLocal();
  drawCounts(st); drawQueue(S.queueHist[S.sel] || []);
  const tb = $("groups").querySelector("tbody"); tb.innerHTML = "";
  for (const g of st.lane_groups) {
    const tr = el("tr", {}, tb);
    for (const v of [g.id, g.flow_veh_h ?? "-", g.v_c ?? "-", g.delay_s ?? "-", g.los ?? "-", g.queue_veh ?? "-"])
      el("td", {text: String(v)}, tr);
    if (g.los) tr.lastChild.previousSibling.className = "los-" + g.los;
  }
}

function tickLocal() {
  const st = S.status[S.sel]; if (!st) return;
  $("phase").textContent = `${st.phase.name || "phase " + st.phase.index}`;
  $("phase").dataset.index = st.phase.index;
  $("interval").textContent = st.phase.interval;
  const dt = (performance.now() - st._t) / 1000;
  $("remaining").textContent = Math.max(0, st.phase.remaining_s - dt).toFixed(0);
  $("tic").textContent = ((st.time_in_cycle_s + dt) % st.plan.cycle_s).toFixed(0);
}

function drawCounts(st) {
  const svg = $("counts-chart"); svg.innerHTML = "";
  const v = st.counts ? st.counts.vehicles : {};
  const keys = Object.keys(v).sort(); const max = Math.max(1, ...keys.map((k) => v[k]));
  if (!keys.length) { el("text", {x: 10, y: 20, text: "no counts yet"}, svg, svgNS); return; }
  const w = 580 / keys.length;
  keys.forEach((k, i) => {
    const h = v[k] / max * 100;
    el("rect", {x: 10 + i * w, y: 110 - h, width: w * 0.8, height: h, fill: "#3a7bd5"}, svg, svgNS);
    el("text", {x: 10 + i * w, y: 125, "font-size": 8, text: k.slice(-12)}, svg, svgNS);
    el("text", {x: 10 + i * w, y: 106 - h, "font-size": 9, text: v[k]}, svg, svgNS);
  });
}

function drawQueue(h) {
  const svg = $("queue-chart"); svg.innerHTML = "";
  if (h.length < 2) return;
  const max = Math.max(1, ...h);
  const pts = h.map((q, i) => `${10 + i * 580 / (h.length - 1)},${90 - q / max * 80}`).join(" ");
  el("polyline", {points: pts, fill: "none", stroke: "#c8102e", "stroke-width": 2}, svg, svgNS);
  el("text", {x: 10, y: 10, "font-size": 10, text: `max ${max.toFixed(1)} veh`}, svg, svgNS);
}

async function drawTsd() {
  const svg = $("tsd");
  const c = (await api("/corridor")).body;
  svg.innerHTML = "";
  if (!c.intersections.length) { el("text", {x: 10, y: 20, text: c.note || "no corridor"}, svg, svgNS); return; }
  const cycle = Math.max(...c.intersections.map((r) => r.cycle_s)), span = 3 * cycle;
  const t0 = c.now_s - (c.now_s % cycle), maxPos = Math.max(1, ...c.intersections.map((r) => r.position_m));
  const X = (t) => 80 + (t - t0) / span * 700, Y = (p) => 240 - p / maxPos * 210;
  for (const r of c.intersections) {
    const y = Y(r.position_m);
    el("text", {x: 4, y: y + 4, "font-size": 11, text: r.intersection}, svg, svgNS);
    el("line", {x1: 80, x2: 780, y1: y, y2: y, stroke: "#c8102e", "stroke-width": 4}, svg, svgNS);
    for (let k = -1; k <= Math.ceil(span / r.cycle_s); k++) {
      const base = t0 + r.offset_s + k * r.cycle_s - (t0 % r.cycle_s);
      for (const [a, b] of r.outbound) {
        const x1 = Math.max(80, X(base + a)), x2 = Math.min(780, X(base + b));
        if (x2 > x1) el("line", {x1, x2, y1: y, y2: y, stroke: "#1a9641", "stroke-width": 6}, svg, svgNS);
      }
    }
  }
  const nowX = X(c.now_s);
  el("line", {x1: nowX, x2: nowX, y1: 20, y2: 245, stroke: "#333", "stroke-dasharray": "4 3"}, svg, svgNS);
  if (c.speed_m_s > 0) {  // a vehicle leaving the first signal now at the design speed
    const tEnd = c.now_s + maxPos / c.speed_m_s;
    el("line", {x1: nowX, y1: Y(0), x2: X(tEnd), y2: Y(maxPos), stroke: "#3a7bd5", "stroke-width": 1.5}, svg, svgNS);
  }
}

async function refreshAudit() {
  const rows = (await api("/audit?limit=25")).body;
  const ol = $("audit"); ol.innerHTML = "";
  for (const e of rows) {
    const when = new Date(e.at * 1000).toLocaleTimeString();
    el("li", {text: `${when} ${e.actor} ${e.action} ${e.target} ${e.after ? JSON.stringify(e.after) : ""}`}, ol);
  }
}

async function refreshAlarms() {
  const rows = (await api("/alarms?open_only=true&limit=50")).body;
  const canOperate = ROLES.indexOf(S.me.role) >= 1;
  const text = (a) => `${a.intersection} ${a.kind}: ${a.message} (${Math.round(a.age_s)} s ago` +
                      `${a.active ? "" : ", cleared"}${a.acknowledged_by ? ", acknowledged by " + a.acknowledged_by : ""}) `;
  const ul = $("alarms");
  // Rebuild only when the alarms changed (a button is never replaced under the operator's click); else the ages.
  const sig = JSON.stringify([canOperate, rows.map((a) => [a.id, a.active, a.acknowledged_at])]);
  if (ul.dataset.sig === sig) {
    for (const a of rows) { const span = ul.querySelector(`li[data-id="${a.id}"] span`); if (span) span.textContent = text(a); }
    return;
  }
  ul.dataset.sig = sig; ul.innerHTML = "";
  if (!rows.length) { el("li", {text: "none"}, ul); return; }
  for (const a of rows) {
    const li = el("li", {class: a.active ? "alarm active" : "alarm", "data-id": a.id}, ul);
    el("span", {text: text(a)}, li);
    if (!a.acknowledged_at) {
      const b = el("button", {class: "ack", "data-alarm": a.id, text: "Acknowledge"}, li);
      b.disabled = !canOperate;
      b.addEventListener("click", async () => {
        try { await api(`/alarms/${a.id}/acknowledge`, {method: "POST"}); }
        catch (e) { $("action-msg").textContent = "Refused: " + e.message; }
        refreshAlarms(); refreshAudit();
      });
    }
  }
}

async function activate(name, version) {
  if (!confirm(`Activate plan ${name} v${version} at ${S.sel}? It takes effect at the end of the current cycle.`)) return;
  try {
    const {body} = await api(`/intersections/${encodeURIComponent(S.sel)}/plans/${encodeURIComponent(name)}/activate`,
                             {method: "POST", json: {version}});
    $("action-msg").textContent = `${body.plan} v${body.version} takes effect at ${new Date(body.effective_at_s * 1000).toLocaleTimeString()}`;
  } catch (e) { $("action-msg").textContent = "Refused: " + e.message; }
  await refreshStatus(S.sel); refreshPanel(); refreshAudit();
}

async function rollback() {
  if (!confirm(`Roll ${S.sel} back to its previous plan at the end of the current cycle?`)) return;
  try {
    const {body} = await api(`/intersections/${encodeURIComponent(S.sel)}/rollback`, {method: "POST"});
    $("action-msg").textContent = `rolling back to ${body.plan} v${body.version}`;
  } catch (e) { $("action-msg").textContent = "Refused: " + e.message; }
  await refreshStatus(S.sel); refreshPanel(); refreshAudit();
}

async function setMode() {
  const mode = $("mode-select").value;
  if (!confirm(`Set ${S.sel} to ${mode} mode?`)) return;
  try { await api(`/intersections/${encodeURIComponent(S.sel)}/mode`, {method: "PUT", json: {mode}}); }
  catch (e) { $("action-msg").textContent = "Refused: " + e.message; }
  await refreshStatus(S.sel); refreshAudit();
}

function connectFeed() {
  if (S.ws) S.ws.close();
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = S.ws = new WebSocket(`${proto}//${location.host}${API}/feed?token=${encodeURIComponent(S.token)}`);
  ws.onopen = () => { $("feed-state").textContent = "live"; $("feed-state").className = "pill live"; };
  ws.onclose = () => { $("feed-state").textContent = "offline"; $("feed-state").className = "pill";
                       if (S.token && ws === S.ws) setTimeout(connectFeed, 2000); };
  ws.onmessage = (m) => {
    const ev = JSON.parse(m.data);
    if (ev.type === "phase") {
      const st = S.status[ev.intersection];
      if (st && (st.phase.index !== ev.phase || st.phase.interval !== ev.interval || st.plan.name !== ev.plan)) {
        refreshStatus(ev.intersection);
      }
    } else if (ev.type === "counts" || ev.type === "plan" || ev.type === "mode") {
      refreshStatus(ev.intersection); if (ev.intersection === S.sel) refreshPanel();
      if (ev.type === "plan") drawTsd();
    } else if (ev.type === "audit") { refreshAudit(); }
    else if (ev.type === "alarm" || ev.type === "controller_mode") {
      refreshAlarms(); if (ev.intersection) refreshStatus(ev.intersection);
    }
  };
}

$("login-form").addEventListener("submit", login);
$("logout").addEventListener("click", logout);
$("rollback").addEventListener("click", rollback);
$("mode-btn").addEventListener("click", setMode);
if (S.token) start();
