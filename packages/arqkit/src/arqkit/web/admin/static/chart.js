// A tiny line chart on a <canvas>: no library, so the page needs no build step and no CDN.
"use strict";

window.drawChart = function drawChart(canvas, points, series, spanMs) {
  const ctx = canvas.getContext("2d");
  const width = canvas.width;
  const height = canvas.height;
  const pad = { left: 40, right: 10, top: 10, bottom: 20 };
  const now = points.length ? points[points.length - 1].t : Date.now();
  const x = (t) => pad.left + ((t - (now - spanMs)) / spanMs) * (width - pad.left - pad.right);
  const max = Math.max(1, ...points.flatMap((p) => series.map((s) => p[s.key])));
  const y = (v) => height - pad.bottom - (v / max) * (height - pad.top - pad.bottom);

  ctx.clearRect(0, 0, width, height);
  ctx.strokeStyle = "#e4e7ec";
  ctx.fillStyle = "#667085";
  ctx.font = "11px system-ui, sans-serif";
  for (let i = 0; i <= 4; i += 1) {
    const value = (max * i) / 4;
    ctx.beginPath();
    ctx.moveTo(pad.left, y(value));
    ctx.lineTo(width - pad.right, y(value));
    ctx.stroke();
    ctx.fillText(value >= 10 ? value.toFixed(0) : value.toFixed(1), 4, y(value) + 4);
  }
  for (let minutes = 0; minutes * 60000 <= spanMs; minutes += 1) {
    ctx.fillText(minutes ? `-${minutes}m` : "now", x(now - minutes * 60000) - 10, height - 4);
  }
  for (const s of series) {
    ctx.strokeStyle = s.color;
    ctx.lineWidth = 2;
    ctx.beginPath();
    points.forEach((p, i) => (i ? ctx.lineTo(x(p.t), y(p[s.key])) : ctx.moveTo(x(p.t), y(p[s.key]))));
    ctx.stroke();
  }
};
