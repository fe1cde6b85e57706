// The run's graph: draws the steps in `#dag` (their data in its `data-graph`) as a layered
// graph laid out by dagre, one node per step, each fan-out's instances grouped in one node
// until expanded; keeps node colours and the steps table live from the run's events (SSE)
// while the run runs; and shows a selected step in `#panel` (fetched with htmx).
'use strict';
(function () {
  const figure = document.getElementById('dag');
  if (!figure || typeof dagre === 'undefined') return;
  const run = figure.dataset.run;
  const data = JSON.parse(figure.dataset.graph);
  const steps = data.steps;
  const byId = new Map(steps.map((s) => [s.id, s]));
  const groups = new Map(); // authored step -> its instances
  for (const s of steps) {
    if (!s.group) continue;
    if (!groups.has(s.group)) groups.set(s.group, []);
    groups.get(s.group).push(s);
  }
  const expanded = new Set();
  const canvas = figure.querySelector('.dag-canvas');
  const tools = figure.querySelector('.dag-tools');
  const SVG = 'http://www.w3.org/2000/svg';
  let drawn = new Map(); // node key -> { el, text2, members }
  let selected = null;

  const stepUrl = (id) => `/ui/runs/${encodeURIComponent(run)}/steps/${encodeURIComponent(id)}`;
  const keyOf = (s) => (s.group && !expanded.has(s.group) ? 'g:' + s.group : 's:' + s.id);
  const shown = (s) => (s.cached && s.status === 'succeeded' ? 'cached' : s.status);

  // The status a group shows: its most pressing member's.
  const ORDER = ['failed', 'retrying', 'running', 'pending', 'cancelled', 'blocked', 'skipped', 'succeeded', 'cached'];
  function groupStatus(members) {
    const counts = new Map();
    for (const m of members) counts.set(shown(m), (counts.get(shown(m)) || 0) + 1);
    const top = ORDER.find((s) => counts.has(s)) || 'pending';
    // A group of succeeded and cached instances is succeeded.
    const status = top === 'cached' && members.some((m) => shown(m) === 'succeeded') ? 'succeeded' : top;
    const summary = ORDER.filter((s) => counts.has(s)).map((s) => `${counts.get(s)} ${s}`).join(' · ');
    return { status, summary };
  }

  function el(name, attrs, parent) {
    const e = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (parent) parent.appendChild(e);
    return e;
  }

  function draw() {
    const g = new dagre.graphlib.Graph();
    g.setGraph({ rankdir: 'LR', nodesep: 10, ranksep: 48, marginx: 8, marginy: 8 });
    g.setDefaultEdgeLabel(() => ({}));
    const nodes = new Map();
    for (const s of steps) {
      const key = keyOf(s);
      if (!nodes.has(key)) {
        const group = key.startsWith('g:') ? s.group : null;
        nodes.set(key, { key, group, step: group ? null : s, members: group ? groups.get(group) : [s] });
      }
    }
    for (const n of nodes.values()) {
      const label = n.group ? `${n.group} ×${n.members.length}` : n.step.id;
      n.label = label;
      const wide = n.group ? Math.max(label.length, 22) : label.length;
      g.setNode(n.key, { width: Math.min(16 + wide * 7.4, 320), height: n.group ? 44 : 30 });
    }
    for (const s of steps) {
      for (const d of s.deps) {
        const from = keyOf(steps[d]);
        const to = keyOf(s);
        if (from !== to) g.setEdge(from, to);
      }
    }
    dagre.layout(g);
    const size = g.graph();
    const svg = el('svg', {
      width: Math.ceil(size.width),
      height: Math.ceil(size.height),
      viewBox: `0 0 ${Math.ceil(size.width)} ${Math.ceil(size.height)}`,
      role: 'group',
      'aria-label': `The run's ${steps.length} steps`,
    });
    const defs = el('defs', {}, svg);
    const marker = el('marker', { id: 'arrow', viewBox: '0 0 8 8', refX: 8, refY: 4, markerWidth: 7, markerHeight: 7, orient: 'auto' }, defs);
    el('path', { d: 'M0,0 L8,4 L0,8 z', class: 'arrowhead' }, marker);
    const edges = el('g', { class: 'edges' }, svg);
    for (const e of g.edges()) {
      const points = g.edge(e).points;
      const d = points.map((p, i) => `${i ? 'L' : 'M'}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' ');
      el('path', { d, class: 'edge', 'marker-end': 'url(#arrow)' }, edges);
    }
    drawn = new Map();
    const layer = el('g', { class: 'nodes' }, svg);
    for (const n of nodes.values()) {
      const box = g.node(n.key);
      const x = box.x - box.width / 2;
      const y = box.y - box.height / 2;
      let node;
      if (n.group) {
        node = el('g', { class: 'node group', tabindex: 0, role: 'button', 'data-group': n.group }, layer);
        node.addEventListener('click', () => toggle(n.group));
        node.addEventListener('keydown', (ev) => {
          if (ev.key === 'Enter' || ev.key === ' ') {
            ev.preventDefault();
            toggle(n.group);
          }
        });
      } else {
        node = el('a', { class: 'node', href: stepUrl(n.step.id), 'data-step': n.step.id }, layer);
        node.addEventListener('click', (ev) => {
          if (ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.button !== 0) return;
          ev.preventDefault();
          select(n.step.id);
        });
      }
      el('rect', { x, y, width: box.width, height: box.height, rx: 5 }, node);
      const text = el('text', { x: x + 8, y: y + (n.group ? 17 : 19) }, node);
      text.textContent = n.label;
      let text2 = null;
      if (n.group) text2 = el('text', { x: x + 8, y: y + 35, class: 'counts' }, node);
      const title = el('title', {}, node);
      drawn.set(n.key, { node, text2, title, members: n.members, label: n.label, group: n.group });
    }
    canvas.replaceChildren(svg);
    paint();
    drawTools();
  }

  function paint() {
    for (const d of drawn.values()) {
      let status, words;
      if (d.group) {
        const gs = groupStatus(d.members);
        status = gs.status;
        d.text2.textContent = gs.summary;
        words = `${d.group}: ${d.members.length} instances (${gs.summary}); ${expanded.has(d.group) ? 'collapse' : 'expand'}`;
        d.node.setAttribute('aria-expanded', String(expanded.has(d.group)));
      } else {
        status = shown(d.members[0]);
        words = `${d.label}: ${status}`;
      }
      d.node.setAttribute('class', `node st-${status}${d.group ? ' group' : ''}${!d.group && d.members[0].id === selected ? ' selected' : ''}`);
      d.node.setAttribute('aria-label', words);
      d.node.setAttribute('data-status', status);
      d.title.textContent = words;
    }
  }

  function drawTools() {
    tools.replaceChildren();
    for (const [name, members] of groups) {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = expanded.has(name) ? `Group ${name}` : `Expand ${name} (${members.length})`;
      b.setAttribute('aria-pressed', String(expanded.has(name)));
      b.addEventListener('click', () => toggle(name));
      tools.appendChild(b);
    }
  }

  function toggle(group) {
    if (expanded.has(group)) expanded.delete(group);
    else expanded.add(group);
    draw();
    const again = canvas.querySelector(`[data-group="${CSS.escape(group)}"]`);
    if (again) again.focus();
  }

  function select(id) {
    selected = id;
    paint();
    htmx.ajax('GET', stepUrl(id), { target: '#panel', swap: 'innerHTML' });
  }

  // The steps table's row for a step, brought to its new status.
  function paintRow(s) {
    const row = document.getElementById('step-' + s.id);
    if (!row) return;
    row.dataset.status = s.status;
    const badge = row.querySelector('.status');
    if (badge) {
      badge.className = `status ${s.status}`;
      badge.textContent = s.status;
    }
  }

  let queued = false;
  const changedRows = new Set();
  function changed(s) {
    changedRows.add(s);
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      paint();
      for (const c of changedRows) paintRow(c);
      changedRows.clear();
    });
  }

  const EVENTS = {
    step_started: 'running',
    step_succeeded: 'succeeded',
    step_cached: 'succeeded',
    step_failed: 'failed',
    step_retrying: 'retrying',
    step_blocked: 'blocked',
    step_skipped: 'skipped',
    step_cancelled: 'cancelled',
  };

  draw();
  if (figure.dataset.live !== 'true') return;
  const source = new EventSource(`/ui/runs/${encodeURIComponent(run)}/events`);
  for (const [name, status] of Object.entries(EVENTS)) {
    source.addEventListener(name, (ev) => {
      const s = byId.get(JSON.parse(ev.data).step);
      if (!s) return;
      s.status = status;
      s.cached = name === 'step_cached';
      changed(s);
    });
  }
  source.addEventListener('run_finished', () => {
    source.close();
    figure.dataset.live = 'false';
    htmx.ajax('GET', `/ui/runs/${encodeURIComponent(run)}/live`, { target: '#run-live', swap: 'outerHTML' });
  });
})();
