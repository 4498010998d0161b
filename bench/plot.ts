/**
 * Small SVG charts for bench/RESULTS.md: line charts (linear or log axes, min–max bars around
 * each median, dashed series for ceilings, horizontal goal lines) and horizontal bar charts. No
 * package in the tree draws charts, and these need no more than a page of code, so they are
 * written here; the output is plain SVG that GitHub and any browser render.
 */

export interface Point {
  x: number;
  y: number;
  /** The spread of the runs behind y (drawn as a vertical bar). */
  lo?: number;
  hi?: number;
}

export interface Series {
  name: string;
  points: Point[];
  /** Ceilings and floors measured beside our figures are dashed. */
  dashed?: boolean;
}

export interface LineChart {
  title: string;
  xLabel: string;
  yLabel: string;
  xLog?: boolean;
  yLog?: boolean;
  series: Series[];
  /** Horizontal reference lines, such as a goal. */
  marks?: { y: number; label: string }[];
  /** Where the legend goes; top-left by default. */
  legend?: 'top-left' | 'top-right' | 'bottom-right';
}

export interface Bar {
  label: string;
  value: number;
  lo?: number;
  hi?: number;
  /** A second, dashed bar under this one (the ceiling or the peer). */
  beside?: { label: string; value: number };
}

export interface BarChart {
  title: string;
  xLabel: string;
  bars: Bar[];
  /** Vertical reference lines, such as ratio 1 or a goal. */
  marks?: { x: number; label: string }[];
}

// Okabe–Ito: distinguishable with the common colour-vision deficiencies.
const COLORS = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#F0E442'];
const W = 760;
const H = 440;
const M = { left: 78, right: 24, top: 44, bottom: 58 };
const FONT = 'font-family="Helvetica, Arial, sans-serif"';

function esc(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
}

function num(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(2).replace(/0+$/, '').replace(/\.$/, '');
}

/** A short label for an axis value: 1.5k, 10M, 0.25. */
function short(v: number): string {
  const a = Math.abs(v);
  const trim = (x: number) => (Number.isInteger(x) ? String(x) : x.toPrecision(3).replace(/\.?0+$/, ''));
  if (a >= 1e9) return `${trim(v / 1e9)}G`;
  if (a >= 1e6) return `${trim(v / 1e6)}M`;
  if (a >= 1e4) return `${trim(v / 1e3)}k`;
  if (a === 0) return '0';
  return trim(v);
}

interface Axis {
  min: number;
  max: number;
  ticks: number[];
  log: boolean;
}

function niceStep(range: number, count: number): number {
  const raw = range / count;
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

function axis(values: number[], log: boolean, includeZero: boolean): Axis {
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (log) {
    lo = Math.max(lo, Number.MIN_VALUE);
    const a = Math.floor(Math.log10(lo));
    let b = Math.ceil(Math.log10(hi));
    if (a === b) b++;
    const ticks: number[] = [];
    // Ticks at 1, 2, 5 × 10^k when the axis spans few decades, else at powers of ten.
    const mult = b - a <= 3 ? [1, 2, 5] : [1];
    for (let e = a; e <= b; e++) for (const m of mult) ticks.push(m * 10 ** e);
    const min = 10 ** a;
    const max = 10 ** b;
    return { min, max, ticks: ticks.filter((t) => t >= min && t <= max), log };
  }
  if (includeZero) lo = Math.min(0, lo);
  if (lo === hi) hi = lo + 1;
  const step = niceStep(hi - lo, 6);
  const min = Math.floor(lo / step) * step;
  const max = Math.ceil(hi / step) * step;
  const ticks: number[] = [];
  for (let t = min; t <= max + step / 2; t += step) ticks.push(Number(t.toPrecision(12)));
  return { min, max, ticks, log };
}

function scale(a: Axis, from: number, to: number): (v: number) => number {
  if (a.log) {
    const l0 = Math.log10(a.min);
    const l1 = Math.log10(a.max);
    return (v) => from + ((Math.log10(Math.max(v, a.min)) - l0) / (l1 - l0)) * (to - from);
  }
  return (v) => from + ((v - a.min) / (a.max - a.min)) * (to - from);
}

function frame(title: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ${FONT} font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${W / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`,
    ...body,
    '</svg>\n',
  ].join('\n');
}

export function lineChart(c: LineChart): string {
  const pts = c.series.flatMap((s) => s.points);
  const ys = [...pts.flatMap((p) => [p.y, p.lo ?? p.y, p.hi ?? p.y]), ...(c.marks ?? []).map((m) => m.y)].filter((v) => !c.yLog || v > 0);
  const xa = axis(pts.map((p) => p.x).filter((v) => !c.xLog || v > 0), !!c.xLog, false);
  const ya = axis(ys, !!c.yLog, true);
  const px = scale(xa, M.left, W - M.right);
  const py = scale(ya, H - M.bottom, M.top);
  const out: string[] = [];
  // Grid and ticks.
  for (const t of ya.ticks) {
    out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${num(py(t))}" y2="${num(py(t))}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${M.left - 6}" y="${num(py(t) + 4)}" text-anchor="end">${short(t)}</text>`);
  }
  for (const t of xa.ticks) {
    out.push(`<line x1="${num(px(t))}" x2="${num(px(t))}" y1="${M.top}" y2="${H - M.bottom}" stroke="#f0f0f0"/>`);
    out.push(`<text x="${num(px(t))}" y="${H - M.bottom + 16}" text-anchor="middle">${short(t)}</text>`);
  }
  out.push(`<rect x="${M.left}" y="${M.top}" width="${W - M.left - M.right}" height="${H - M.top - M.bottom}" fill="none" stroke="#999"/>`);
  out.push(`<text x="${(M.left + W - M.right) / 2}" y="${H - 14}" text-anchor="middle">${esc(c.xLabel)}${c.xLog ? ' (log scale)' : ''}</text>`);
  out.push(
    `<text transform="translate(18 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(c.yLabel)}${c.yLog ? ' (log scale)' : ''}</text>`,
  );
  for (const m of c.marks ?? []) {
    const y = num(py(m.y));
    out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${y}" y2="${y}" stroke="#b00" stroke-width="1.5" stroke-dasharray="2 3"/>`);
    out.push(`<text x="${W - M.right - 4}" y="${num(py(m.y) - 5)}" text-anchor="end" fill="#b00">${esc(m.label)}</text>`);
  }
  c.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const ps = s.points.filter((p) => (!c.xLog || p.x > 0) && (!c.yLog || p.y > 0)).sort((a, b) => a.x - b.x);
    if (ps.length === 0) return;
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2"${dash} points="${ps.map((p) => `${num(px(p.x))},${num(py(p.y))}`).join(' ')}"/>`);
    for (const p of ps) {
      if (p.lo !== undefined && p.hi !== undefined && p.hi > p.lo) {
        const x = num(px(p.x));
        const y0 = num(py(p.lo));
        const y1 = num(py(p.hi));
        out.push(`<path d="M${x} ${y0}V${y1}M${num(px(p.x) - 3)} ${y0}h6M${num(px(p.x) - 3)} ${y1}h6" stroke="${color}" fill="none"/>`);
      }
      out.push(`<circle cx="${num(px(p.x))}" cy="${num(py(p.y))}" r="3" fill="${s.dashed ? '#fff' : color}" stroke="${color}"/>`);
    }
  });
  // Legend.
  const lw = Math.max(...c.series.map((s) => s.name.length)) * 6.6 + 40;
  const lx = c.legend === 'top-right' || c.legend === 'bottom-right' ? W - M.right - lw - 8 : M.left + 8;
  const ly = c.legend === 'bottom-right' ? H - M.bottom - 8 - c.series.length * 18 : M.top + 8;
  out.push(`<rect x="${lx}" y="${ly}" width="${lw}" height="${c.series.length * 18 + 6}" fill="#fff" fill-opacity="0.85" stroke="#ccc"/>`);
  c.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const y = ly + 15 + i * 18;
    out.push(`<line x1="${lx + 6}" x2="${lx + 30}" y1="${y - 4}" y2="${y - 4}" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    out.push(`<text x="${lx + 36}" y="${y}">${esc(s.name)}</text>`);
  });
  return frame(c.title, out);
}

export function barChart(c: BarChart): string {
  const rowH = 30;
  const height = M.top + c.bars.length * rowH * (c.bars.some((b) => b.beside) ? 1.6 : 1) + M.bottom;
  const labelW = Math.min(360, Math.max(...c.bars.flatMap((b) => [b.label.length, b.beside?.label.length ?? 0])) * 6.6 + 16);
  const left = labelW + 10;
  const values = c.bars.flatMap((b) => [b.value, b.hi ?? b.value, b.beside?.value ?? 0]).concat((c.marks ?? []).map((m) => m.x));
  const xa = axis([0, ...values], false, true);
  const px = scale(xa, left, W - M.right - 60);
  const out: string[] = [];
  const bottom = height - M.bottom;
  for (const t of xa.ticks) {
    out.push(`<line x1="${num(px(t))}" x2="${num(px(t))}" y1="${M.top}" y2="${bottom}" stroke="#eee"/>`);
    out.push(`<text x="${num(px(t))}" y="${bottom + 16}" text-anchor="middle">${short(t)}</text>`);
  }
  out.push(`<text x="${(left + W - M.right) / 2}" y="${height - 14}" text-anchor="middle">${esc(c.xLabel)}</text>`);
  let y = M.top + 6;
  c.bars.forEach((b, i) => {
    const color = COLORS[i % COLORS.length]!;
    const h = 18;
    out.push(`<text x="${labelW}" y="${y + 13}" text-anchor="end">${esc(b.label)}</text>`);
    out.push(`<rect x="${left}" y="${y}" width="${num(Math.max(0.5, px(b.value) - left))}" height="${h}" fill="${color}"/>`);
    if (b.lo !== undefined && b.hi !== undefined && b.hi > b.lo) {
      out.push(`<path d="M${num(px(b.lo))} ${y + h / 2}H${num(px(b.hi))}M${num(px(b.lo))} ${y + 4}v10M${num(px(b.hi))} ${y + 4}v10" stroke="#222"/>`);
    }
    out.push(`<text x="${num(Math.max(px(b.value), px(b.hi ?? 0)) + 5)}" y="${y + 13}">${short(Number(b.value.toPrecision(3)))}</text>`);
    y += rowH;
    if (b.beside) {
      out.push(`<text x="${labelW}" y="${y - 2}" text-anchor="end" fill="#555">${esc(b.beside.label)}</text>`);
      out.push(
        `<rect x="${left}" y="${y - 14}" width="${num(Math.max(0.5, px(b.beside.value) - left))}" height="12" fill="none" stroke="${color}" stroke-dasharray="4 3"/>`,
      );
      out.push(`<text x="${num(px(b.beside.value) + 5)}" y="${y - 3}" fill="#555">${short(Number(b.beside.value.toPrecision(3)))}</text>`);
      y += rowH * 0.6;
    }
  });
  for (const m of c.marks ?? []) {
    out.push(`<line x1="${num(px(m.x))}" x2="${num(px(m.x))}" y1="${M.top}" y2="${bottom}" stroke="#b00" stroke-width="1.5" stroke-dasharray="2 3"/>`);
    out.push(`<text x="${num(px(m.x) + 4)}" y="${M.top - 4}" fill="#b00">${esc(m.label)}</text>`);
  }
  return frame(c.title, out).replace(`height="${H}" viewBox="0 0 ${W} ${H}"`, `height="${height}" viewBox="0 0 ${W} ${height}"`).replace(
    `<rect width="${W}" height="${H}"`,
    `<rect width="${W}" height="${height}"`,
  );
}
