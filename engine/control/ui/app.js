// SPDX-License-Identifier: Apache-2.0
// xlb's status page: reads the API every few seconds (GET only; no token) and renders VIPs and
// backends, connections by state, drops by reason, the blocklist, and rates over the last
// minutes as charts drawn in SVG. Every value from the API is set as text, never as markup.
'use strict';

const params = new URLSearchParams(location.search);
const intervalMs = Math.max(200, Number(params.get('interval_ms')) || 2000);
const historySeconds = 600;
const dropReasons = new Set(JSON.parse(document.getElementById('drop-reasons').textContent));
const history = [];  // {t, created, drops: {reason: packets}}
let polls = 0;

function showError(message) {
  const box = document.getElementById('errors');
  box.hidden = false;
  box.textContent = message;
}
window.addEventListener('error', (e) => showError('error: ' + e.message));
window.addEventListener('unhandledrejection', (e) => showError('error: ' + e.reason));

async function getJson(path) {
  const r = await fetch(path, {cache: 'no-store'});
  if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
  return r.json();
}

function cell(row, text, cls) {
  const td = row.insertCell();
  td.textContent = text === undefined || text === null ? '' : String(text);
  if (cls) td.className = cls;
  return td;
}

function fill(tbody, rows, render) {
  tbody.replaceChildren();
  for (const item of rows) render(tbody.insertRow(), item);
}

// Packets per reason the XDP program and the engine dropped, summed.
function dropsOf(stats) {
  const out = {};
  for (const stage of [stats.xdp || {}, stats.engine || {}]) {
    for (const [reason, n] of Object.entries(stage)) {
      if (dropReasons.has(reason)) out[reason] = (out[reason] || 0) + n;
    }
  }
  return out;
}

// Per-second rates between consecutive samples of the history.
function rates(pick) {
  const out = [];
  for (let i = 1; i < history.length; i++) {
    const dt = (history[i].t - history[i - 1].t) / 1000;
    if (dt > 0) out.push({t: history[i].t, v: Math.max(0, pick(history[i]) - pick(history[i - 1])) / dt});
  }
  return out;
}

const colors = ['#c0392b', '#1f6fb2', '#e67e22', '#8e44ad', '#16a085'];

// lines: [{name, points: [{t, v}]}], drawn on one scale with a legend.
function drawChart(svg, lines) {
  const ns = 'http://www.w3.org/2000/svg';
  const w = 600, h = 160, pad = 30;
  svg.replaceChildren();
  const all = lines.flatMap((l) => l.points);
  const max = Math.max(1, ...all.map((p) => p.v));
  const now = Date.now();
  // The window grows with the history, from one minute up to historySeconds.
  const span = Math.min(historySeconds, Math.max(60, history.length ? (now - history[0].t) / 1000 : 60));
  const x = (t) => pad + (w - pad - 4) * (1 - (now - t) / (span * 1000));
  const y = (v) => h - 16 - (h - 28) * (v / max);
  const text = (lx, ly, content, color) => {
    const t = document.createElementNS(ns, 'text');
    t.setAttribute('x', lx);
    t.setAttribute('y', ly);
    if (color) t.setAttribute('fill', color);
    t.textContent = content;
    svg.appendChild(t);
  };
  lines.forEach((l, i) => {
    const line = document.createElementNS(ns, 'polyline');
    line.setAttribute('points', l.points.map((p) => x(p.t).toFixed(1) + ',' + y(p.v).toFixed(1)).join(' '));
    line.setAttribute('stroke', colors[i % colors.length]);
    svg.appendChild(line);
    if (l.name) text(pad + 8, 14 + 12 * i, l.name, colors[i % colors.length]);
  });
  text(pad - 26, 14, max.toFixed(max < 10 ? 1 : 0));
  text(pad - 26, h - 16, '0');
  text(pad, h - 2, '-' + Math.round(span) + ' s');
  text(w - 30, h - 2, 'now');
  const first = lines.length ? lines[0].points : [];
  svg.dataset.lines = String(lines.length);
  svg.dataset.points = String(first.length);
  svg.dataset.last = first.length ? first[first.length - 1].v.toFixed(2) : '0';
}

function renderHeader(stats) {
  document.getElementById('uptime').textContent = 'up ' + stats.uptime_seconds + ' s';
  const xdp = document.getElementById('xdp');
  const attached = stats.xdp_attached !== false;
  xdp.textContent = attached ? 'XDP attached' : 'XDP missing';
  xdp.className = 'badge ' + (attached ? 'ok' : 'on');
  const flooding = (stats.vips || []).filter((v) => v.syn_flood_active).map((v) => v.address);
  const sf = document.getElementById('synflood');
  sf.textContent = flooding.length ? 'SYN-flood mode on: ' + flooding.join(', ') : 'SYN-flood mode off';
  sf.className = 'badge ' + (flooding.length ? 'on' : '');
  sf.dataset.active = String(flooding.length);
  document.getElementById('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
}

function renderStates(stats) {
  const ct = stats.conntrack || {};
  fill(document.querySelector('#states tbody'), Object.entries(ct.by_state || {}), (row, [state, n]) => {
    row.dataset.state = state;
    cell(row, state);
    cell(row, n, 'num');
  });
  document.getElementById('created').textContent = String(ct.created || 0);
  document.getElementById('closed').textContent =
    String(Object.values(ct.closed || {}).reduce((a, n) => a + n, 0));
}

function renderDrops(drops) {
  const perSecond = {};
  if (history.length > 1) {
    const [a, b] = history.slice(-2);
    const dt = (b.t - a.t) / 1000;
    for (const r of Object.keys(drops)) perSecond[r] = dt > 0 ? ((b.drops[r] || 0) - (a.drops[r] || 0)) / dt : 0;
  }
  const rows = Object.entries(drops).sort((p, q) => q[1] - p[1]);
  fill(document.querySelector('#drops tbody'), rows, (row, [reason, n]) => {
    row.dataset.reason = reason;
    cell(row, reason);
    cell(row, n, 'num');
    cell(row, (perSecond[reason] || 0).toFixed(1), 'num');
  });
}

async function renderBackends(stats) {
  const rows = [];
  for (const vip of stats.vips || []) {
    const path = '/api/v1/vips/' + encodeURIComponent(vip.address) + '/backends?protocol=' + vip.protocol;
    const reply = await getJson(path);
    for (const b of reply.items || []) rows.push({vip, b});
  }
  fill(document.querySelector('#backends tbody'), rows, (row, {vip, b}) => {
    row.dataset.vip = vip.address;
    row.dataset.backend = b.address;
    cell(row, vip.address + (vip.protocol === 'udp' ? ' (udp)' : ''));
    cell(row, vip.syn_flood_active ? 'on' : 'off');
    cell(row, b.address);
    cell(row, b.weight, 'num');
    cell(row, b.state);
    cell(row, b.health, b.health);
    cell(row, b.in_rotation ? 'yes' : 'no');
    cell(row, b.active_connections, 'num');
    cell(row, b.connections_total, 'num');
  });
}

async function renderBlocklist() {
  const reply = await getJson('/api/v1/blocklist?limit=100');
  const entries = reply.items || [];
  document.getElementById('blocklist-count').textContent = '(' + reply.total + ' entries)';
  fill(document.querySelector('#blocklist tbody'), entries, (row, e) => {
    row.dataset.cidr = e.cidr;
    cell(row, e.cidr);
    cell(row, e.hits, 'num');
    cell(row, e.source);
    cell(row, e.reason);
    cell(row, e.expires_at || 'never');
    cell(row, e.comment);
  });
}

async function poll() {
  try {
    const stats = await getJson('/api/v1/stats');
    const drops = dropsOf(stats);
    history.push({t: Date.now(), created: (stats.conntrack || {}).created || 0, drops});
    while (history.length > 2 && history[0].t < Date.now() - historySeconds * 1000) history.shift();
    renderHeader(stats);
    renderStates(stats);
    renderDrops(drops);
    drawChart(document.getElementById('chart-new'), [{name: '', points: rates((s) => s.created)}]);
    // One line per reason, the five that dropped most.
    const top = Object.entries(drops).sort((p, q) => q[1] - p[1]).slice(0, 5).map(([r]) => r);
    drawChart(document.getElementById('chart-drops'),
      top.map((r) => ({name: r, points: rates((s) => s.drops[r] || 0)})));
    await renderBackends(stats);
    await renderBlocklist();
    document.getElementById('errors').hidden = true;
  } catch (e) {
    showError('cannot read the API: ' + e.message);
  }
  polls += 1;
  document.body.dataset.polls = String(polls);
  setTimeout(poll, intervalMs);
}

poll();
