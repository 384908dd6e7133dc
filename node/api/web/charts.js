// charts.js -- small SVG charts drawn without any library: a line of
// samples, bars, and the trade graph of members (a force layout).  Labels are set with
// textContent: ledger names are never read as markup.
"use strict";
const KulaCharts = (function () {
  const NS = "http://www.w3.org/2000/svg";
  function svg(tag, attrs) {
    const e = document.createElementNS(NS, tag);
    for (const k in attrs) e.setAttribute(k, String(attrs[k]));
    return e;
  }
  function text(x, y, s, cls) {
    const t = svg("text", { x: x, y: y, class: cls || "axis" });
    t.textContent = s;
    return t;
  }
  function frame(box, w, h) {
    box.replaceChildren();
    const root = svg("svg", { viewBox: "0 0 " + w + " " + h, width: w, height: h, role: "img" });
    box.appendChild(root);
    return root;
  }
  // A line of the last samples (numbers), with its smallest and largest.
  function line(box, values) {
    const w = 300, h = 90, pad = 4;
    const root = frame(box, w, h);
    if (values.length === 0) { root.appendChild(text(pad, h / 2, "no samples yet")); return; }
    const lo = Math.min.apply(null, values), hi = Math.max.apply(null, values);
    const span = hi - lo || 1;
    const pts = values.map(function (v, i) {
      const x = pad + (values.length === 1 ? 0 : i * (w - 2 * pad) / (values.length - 1));
      const y = h - 18 - (v - lo) * (h - 30) / span;
      return x.toFixed(1) + "," + y.toFixed(1);
    });
    root.appendChild(svg("polyline", { points: pts.join(" "), class: "line" }));
    root.appendChild(text(pad, h - 3, "min " + lo + ", max " + hi + ", now " + values[values.length - 1]));
  }
  // Horizontal bars: labels[i] and values[i] (signed), with their words.
  function bars(box, labels, values, words) {
    const row = 20, w = 520, h = Math.max(row * labels.length, row);
    const root = frame(box, w, h);
    const max = Math.max.apply(null, values.map(Math.abs).concat([1]));
    const mid = 320, half = 120;
    labels.forEach(function (l, i) {
      const y = i * row;
      const len = Math.abs(values[i]) * half / max;
      root.appendChild(text(0, y + 14, l, "label"));
      root.appendChild(svg("rect", { x: values[i] < 0 ? mid - len : mid, y: y + 4, width: Math.max(len, 1),
        height: row - 8, class: values[i] < 0 ? "neg" : "pos" }));
      root.appendChild(text(mid + half + 8, y + 14, words[i], "axis"));
    });
    root.appendChild(svg("line", { x1: mid, y1: 0, x2: mid, y2: h, class: "zero" }));
  }
  // Positions of n members for a trade graph (edges: {a, b, value} by
  // index) in a w x h box with room for labels on either side: a force
  // layout (Fruchterman-Reingold) started from a circle, so that members who
  // trade together come close, then scaled to fill the box.  Its work is
  // bounded: at most MAX_WORK pair visits in all (n = 200: 100 rounds), so
  // even 200 members never freeze the page.
  const MAX_WORK = 4000000;
  function forceLayout(n, edges, w, h, padX, padY) {
    const inner = Math.min(w - 2 * padX, h - 2 * padY);
    const x = new Float64Array(n), y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const a = 2 * Math.PI * i / Math.max(n, 1) - Math.PI / 2;
      x[i] = inner / 2 * Math.cos(a); y[i] = inner / 2 * Math.sin(a);
    }
    const rounds = n < 2 ? 0 : Math.min(300, Math.floor(MAX_WORK / (n * n)));
    const k = Math.sqrt(inner * inner / Math.max(n, 1));
    const maxv = Math.max.apply(null, edges.map(function (e) { return e.value; }).concat([1]));
    const dx = new Float64Array(n), dy = new Float64Array(n);
    let t = inner / 10;
    for (let r = 0; r < rounds; r++) {
      dx.fill(0); dy.fill(0);
      for (let i = 0; i < n; i++) {
        for (let j = i + 1; j < n; j++) {
          let ex = x[i] - x[j], ey = y[i] - y[j];
          let d2 = ex * ex + ey * ey;
          if (d2 < 0.01) { ex = 0.1 * ((i % 7) - 3); ey = 0.1; d2 = ex * ex + ey * ey; }
          const f = k * k / d2; // repulsion k^2 / d, along the unit vector
          dx[i] += ex * f; dy[i] += ey * f; dx[j] -= ex * f; dy[j] -= ey * f;
        }
      }
      edges.forEach(function (e) {
        const ex = x[e.a] - x[e.b], ey = y[e.a] - y[e.b];
        const d = Math.sqrt(ex * ex + ey * ey) || 0.1;
        const f = d / k * (0.5 + 0.5 * e.value / maxv); // attraction d^2 / k, more for more value
        dx[e.a] -= ex * f; dy[e.a] -= ey * f; dx[e.b] += ex * f; dy[e.b] += ey * f;
      });
      for (let i = 0; i < n; i++) {
        // a pull to the centre keeps members that never traded near the others
        const dc = Math.sqrt(x[i] * x[i] + y[i] * y[i]);
        dx[i] -= x[i] * dc / k / 4; dy[i] -= y[i] * dc / k / 4;
        const d = Math.sqrt(dx[i] * dx[i] + dy[i] * dy[i]) || 1, m = Math.min(d, t);
        x[i] += dx[i] / d * m; y[i] += dy[i] / d * m;
      }
      t = Math.max(t * 0.96, 0.5);
    }
    // scaled (the same in both directions) and centred in the box
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (let i = 0; i < n; i++) {
      x0 = Math.min(x0, x[i]); x1 = Math.max(x1, x[i]); y0 = Math.min(y0, y[i]); y1 = Math.max(y1, y[i]);
    }
    const sc = Math.min((w - 2 * padX) / ((x1 - x0) || 1), (h - 2 * padY) / ((y1 - y0) || 1));
    for (let i = 0; i < n; i++) {
      x[i] = w / 2 + (x[i] - (x0 + x1) / 2) * sc; y[i] = h / 2 + (y[i] - (y0 + y1) / 2) * sc;
    }
    return { x: x, y: y, rounds: rounds };
  }
  // The trade graph: a node per member (nodes: {id, label}) named by an SVG
  // text node, an edge per trading pair (edges: {a, b, value, words} by
  // member id) its width by the value traded.  Readable from 20 to 200.
  function graph(box, nodes, edges) {
    const n = nodes.length, side = Math.min(800, 360 + n * 4), padX = 160, padY = 16;
    const w = side + 2 * padX, h = side + 2 * padY;
    const index = {};
    nodes.forEach(function (m, i) { index[m.id] = i; });
    const es = edges.filter(function (e) { return index[e.a] !== undefined && index[e.b] !== undefined; })
      .map(function (e) { return { a: index[e.a], b: index[e.b], value: e.value, words: e.words }; });
    const t0 = performance.now();
    const at = forceLayout(n, es, w, h, padX, padY);
    const root = frame(box, w, h);
    root.dataset.layoutMs = (performance.now() - t0).toFixed(1);
    root.dataset.layoutRounds = at.rounds;
    const maxv = Math.max.apply(null, es.map(function (e) { return e.value; }).concat([1]));
    es.forEach(function (e) {
      const l = svg("line", { x1: at.x[e.a].toFixed(1), y1: at.y[e.a].toFixed(1), x2: at.x[e.b].toFixed(1),
        y2: at.y[e.b].toFixed(1), class: "edge", "stroke-width": (0.5 + 5 * e.value / maxv).toFixed(2) });
      const tip = svg("title", {});
      tip.textContent = nodes[e.a].label + " and " + nodes[e.b].label + ": " + e.words;
      l.appendChild(tip);
      root.appendChild(l);
    });
    nodes.forEach(function (m, i) {
      const g = svg("g", { class: "member" });
      g.dataset.member = m.id;
      g.appendChild(svg("circle", { cx: at.x[i].toFixed(1), cy: at.y[i].toFixed(1), r: 4, class: "node" }));
      const right = at.x[i] >= w / 2;
      const t = text(at.x[i] + (right ? 7 : -7), at.y[i] + 4, m.label, "label");
      t.setAttribute("text-anchor", right ? "start" : "end");
      if (n > 60) t.setAttribute("font-size", "8");
      g.appendChild(t);
      root.appendChild(g);
    });
  }
  return { line: line, bars: bars, graph: graph, forceLayout: forceLayout };
})();
