// charts.js -- small SVG charts drawn without any library: a line of
// samples, bars, and a graph of members on a circle.  Labels are set with
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
  // Members on a circle (readable for 20 to 200), an edge per trading pair,
  // its width by the value traded.
  function circle(box, nodes, edges) {
    const n = nodes.length, size = Math.min(760, 260 + n * 6), r = size / 2 - 90;
    const cx = size / 2, cy = size / 2;
    const root = frame(box, size, size);
    const at = {};
    nodes.forEach(function (m, i) {
      const a = 2 * Math.PI * i / Math.max(n, 1) - Math.PI / 2;
      at[m.id] = { x: cx + r * Math.cos(a), y: cy + r * Math.sin(a), a: a };
    });
    const maxv = Math.max.apply(null, edges.map(function (e) { return e.value; }).concat([1]));
    edges.forEach(function (e) {
      const p = at[e.a], q = at[e.b];
      if (!p || !q) return;
      root.appendChild(svg("line", { x1: p.x, y1: p.y, x2: q.x, y2: q.y, class: "edge",
        "stroke-width": (0.5 + 4 * e.value / maxv).toFixed(2) }));
    });
    nodes.forEach(function (m) {
      const p = at[m.id];
      root.appendChild(svg("circle", { cx: p.x, cy: p.y, r: 4, class: "node" }));
      const out = Math.cos(p.a) >= 0;
      const t = text(p.x + (out ? 8 : -8), p.y + 4, m.label, "label");
      t.setAttribute("text-anchor", out ? "start" : "end");
      if (n > 40) t.setAttribute("font-size", "8");
      root.appendChild(t);
    });
  }
  return { line: line, bars: bars, circle: circle };
})();
