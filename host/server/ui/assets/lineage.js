// An artifact's lineage as a graph: the nodes and edges in `#lineage`'s `data-graph`
// (node 0 the artifact, each edge an input it or an ancestor was made from) laid out left
// to right by dagre; each node links to that artifact's page.
'use strict';
(function () {
  const figure = document.getElementById('lineage');
  if (!figure || typeof dagre === 'undefined') return;
  const data = JSON.parse(figure.dataset.graph);
  const SVG = 'http://www.w3.org/2000/svg';
  const el = (name, attrs, parent) => {
    const e = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (parent) parent.appendChild(e);
    return e;
  };
  const g = new dagre.graphlib.Graph({ multigraph: true });
  g.setGraph({ rankdir: 'LR', nodesep: 12, ranksep: 56, marginx: 8, marginy: 8 });
  data.nodes.forEach((n, i) => {
    g.setNode(String(i), { width: Math.min(24 + Math.max(n.label.length, 14) * 7.4, 320), height: 42 });
  });
  data.edges.forEach(([from, to, port], i) => g.setEdge(String(from), String(to), { port }, 'e' + i));
  dagre.layout(g);
  const size = g.graph();
  const svg = el('svg', {
    width: Math.ceil(size.width), height: Math.ceil(size.height),
    viewBox: `0 0 ${Math.ceil(size.width)} ${Math.ceil(size.height)}`,
    role: 'group', 'aria-label': `Lineage: ${data.nodes.length} artifacts`,
  });
  const marker = el('marker', { id: 'arrow', viewBox: '0 0 8 8', refX: 8, refY: 4, markerWidth: 7, markerHeight: 7, orient: 'auto' }, el('defs', {}, svg));
  el('path', { d: 'M0,0 L8,4 L0,8 z', class: 'arrowhead' }, marker);
  for (const e of g.edges()) {
    const d = g.edge(e).points.map((p, i) => `${i ? 'L' : 'M'}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' ');
    const path = el('path', { d, class: 'edge', 'marker-end': 'url(#arrow)' }, svg);
    el('title', {}, path).textContent = `read as ${g.edge(e).port}`;
  }
  data.nodes.forEach((n, i) => {
    const box = g.node(String(i));
    const x = box.x - box.width / 2;
    const y = box.y - box.height / 2;
    const a = el('a', { href: n.href, class: `node${i === 0 ? ' selected' : ''}`, 'aria-label': `${n.label} (${n.digest})` }, svg);
    el('rect', { x, y, width: box.width, height: box.height, rx: 5 }, a);
    el('text', { x: x + 8, y: y + 17 }, a).textContent = n.label;
    el('text', { x: x + 8, y: y + 34, class: 'counts' }, a).textContent = n.digest;
  });
  figure.querySelector('.dag-canvas').replaceChildren(svg);
})();
