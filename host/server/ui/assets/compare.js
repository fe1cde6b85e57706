// Compare's plots, drawn with uPlot from each `figure.plot`'s `data-plot`: a metric across
// runs (`mode: runs`; x is the run's position) or a metric against a swept parameter
// (`mode: sweep`; the instances' points sorted by the parameter). Selects pick the metric
// and the parameter; the canvas is labelled with the points it shows.
'use strict';
(function () {
  if (typeof uPlot === 'undefined') return;
  for (const figure of document.querySelectorAll('figure.plot')) draw(figure);

  function select(label, options, onChange) {
    const wrap = document.createElement('label');
    wrap.textContent = `${label} `;
    const s = document.createElement('select');
    for (const o of options) {
      const opt = document.createElement('option');
      opt.value = o;
      opt.textContent = o;
      s.appendChild(opt);
    }
    s.addEventListener('change', onChange);
    wrap.appendChild(s);
    return { wrap, select: s };
  }

  function draw(figure) {
    const data = JSON.parse(figure.dataset.plot);
    const controls = figure.querySelector('.plot-controls');
    const canvas = figure.querySelector('.plot-canvas');
    const short = (id) => id.slice(-6);
    let metric, param;
    if (data.mode === 'runs') {
      metric = select('Metric', Object.keys(data.series), render);
      controls.replaceChildren(metric.wrap);
    } else {
      const params = Object.keys(data.params).filter((p) => data.params[p].some((v) => v !== null));
      param = select('Against', params, render);
      metric = select('Metric', Object.keys(data.metrics), render);
      controls.replaceChildren(metric.wrap, param.wrap);
      if (params.length === 0) {
        canvas.textContent = 'No swept parameter is a number: nothing to plot against.';
        return;
      }
    }
    render();

    function render() {
      let xs, ys, xLabel, ticks;
      const m = metric.select.value;
      if (data.mode === 'runs') {
        ys = data.series[m];
        xs = ys.map((_, i) => i + 1);
        xLabel = 'run';
        ticks = (u, values) => values.map((v) => (Number.isInteger(v) && data.runs[v - 1] ? short(data.runs[v - 1]) : ''));
      } else {
        const p = param.select.value;
        const points = data.params[p]
          .map((x, i) => [x, data.metrics[m][i]])
          .filter(([x, y]) => x !== null && y !== null)
          .sort((a, b) => a[0] - b[0]);
        xs = points.map((pt) => pt[0]);
        ys = points.map((pt) => pt[1]);
        xLabel = p;
      }
      const width = Math.max(300, Math.min(canvas.clientWidth || 800, 900));
      const opts = {
        width,
        height: 300,
        scales: { x: { time: false } },
        legend: { show: false },
        series: [
          { label: xLabel },
          { label: m, stroke: '#0a5cc2', width: 2, points: { show: true, size: 8, fill: '#0a5cc2' } },
        ],
        axes: [{ label: xLabel, ...(ticks ? { values: ticks, incrs: [1] } : {}) }, { label: m, size: 70 }],
      };
      canvas.replaceChildren();
      new uPlot(opts, [xs, ys], canvas);
      const said = xs.map((x, i) => `${data.mode === 'runs' ? data.runs[i] : x}: ${ys[i] ?? 'none'}`).join('; ');
      canvas.setAttribute('role', 'img');
      canvas.setAttribute('aria-label', `${m} against ${xLabel}: ${said}`);
      figure.dataset.drawn = `${m} against ${xLabel}`;
    }
  }
})();
