// A minimal SVG line chart with optional log axes, for benchmark reports (no plotting dependency).
export interface Series { name: string; points: Array<[number, number]>; dashed?: boolean }

const COLORS = ['#d62728', '#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e', '#555555'];

export function lineChartSvg(opts: { title: string; xLabel: string; yLabel: string; series: Series[]; logX?: boolean; logY?: boolean; width?: number; height?: number }): string {
  const W = opts.width ?? 640, H = opts.height ?? 420, m = { l: 70, r: 170, t: 40, b: 50 };
  const tx = (v: number) => (opts.logX ? Math.log10(v) : v), ty = (v: number) => (opts.logY ? Math.log10(v) : v);
  const pts = opts.series.flatMap((s) => s.points).filter(([x, y]) => (!opts.logX || x > 0) && (!opts.logY || y > 0));
  if (pts.length === 0) throw new Error(`plot '${opts.title}': no points to draw`);
  let [x0, x1] = [Math.min(...pts.map((p) => tx(p[0]))), Math.max(...pts.map((p) => tx(p[0])))];
  let [y0, y1] = [Math.min(...pts.map((p) => ty(p[1]))), Math.max(...pts.map((p) => ty(p[1])))];
  if (x1 === x0) { x0 -= 1; x1 += 1; }
  if (y1 === y0) { y0 -= 1; y1 += 1; }
  if (opts.logY) { y0 = Math.floor(y0); y1 = Math.ceil(y1); }
  const px = (v: number) => m.l + ((tx(v) - x0) / (x1 - x0)) * (W - m.l - m.r);
  const py = (v: number) => H - m.b - ((ty(v) - y0) / (y1 - y0)) * (H - m.t - m.b);
  const out: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`, `<text x="${W / 2 - m.r / 2}" y="22" text-anchor="middle" font-size="15">${esc(opts.title)}</text>`];
  // Axes and ticks: decades on log axes, the data's x values otherwise.
  out.push(`<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" stroke="black"/>`, `<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" stroke="black"/>`);
  const xs = [...new Set(pts.map((p) => p[0]))].sort((a, b) => a - b);
  for (const v of xs) out.push(`<line x1="${px(v)}" y1="${H - m.b}" x2="${px(v)}" y2="${H - m.b + 5}" stroke="black"/><text x="${px(v)}" y="${H - m.b + 18}" text-anchor="middle">${fmt(v)}</text>`);
  const yTicks = opts.logY ? Array.from({ length: y1 - y0 + 1 }, (_, i) => 10 ** (y0 + i)) : Array.from({ length: 5 }, (_, i) => y0 + ((y1 - y0) * i) / 4);
  for (const v of yTicks) out.push(`<line x1="${m.l - 5}" y1="${py(v)}" x2="${W - m.r}" y2="${py(v)}" stroke="#ddd"/><text x="${m.l - 8}" y="${py(v) + 4}" text-anchor="end">${fmt(v)}</text>`);
  out.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 12}" text-anchor="middle">${esc(opts.xLabel)}</text>`,
    `<text transform="translate(16 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">${esc(opts.yLabel)}</text>`);
  opts.series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length]!;
    const ok = s.points.filter(([x, y]) => (!opts.logX || x > 0) && (!opts.logY || y > 0));
    out.push(`<polyline fill="none" stroke="${c}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''} points="${ok.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')}"/>`);
    if (!s.dashed) for (const [x, y] of ok) out.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${c}"/>`);
    out.push(`<line x1="${W - m.r + 12}" y1="${m.t + 14 + i * 20}" x2="${W - m.r + 36}" y2="${m.t + 14 + i * 20}" stroke="${c}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
      `<text x="${W - m.r + 42}" y="${m.t + 18 + i * 20}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

function fmt(v: number): string {
  return Math.abs(v) >= 1000 || (Math.abs(v) < 0.01 && v !== 0) ? v.toExponential(0) : String(Number(v.toPrecision(3)));
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
