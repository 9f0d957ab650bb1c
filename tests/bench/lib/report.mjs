// Numbers and text: percentiles, rates, the live progress line, the results table, a histogram.
import os from 'node:os';

export const now = () => performance.now();

/** Percentile (nearest rank) of an unsorted list of numbers; null when empty. */
export function percentile(values, p) {
  if (values.length === 0) return null;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

export function latencySummary(values) {
  return {
    count: values.length,
    p50: round(percentile(values, 50), 2),
    p90: round(percentile(values, 90), 2),
    p95: round(percentile(values, 95), 2),
    p99: round(percentile(values, 99), 2),
    max: round(values.length ? Math.max(...values) : null, 2),
  };
}

export function round(value, digits = 0) {
  if (value === null || value === undefined || !Number.isFinite(value)) return null;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export function fmtInt(value) {
  return value === null || value === undefined ? '-' : Math.round(value).toLocaleString('en-US');
}

export function fmtMs(value) {
  if (value === null || value === undefined) return '-';
  return value >= 100 ? `${Math.round(value)} ms` : `${value.toFixed(1)} ms`;
}

export function fmtSeconds(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

export const loadavg = () => os.loadavg().map((v) => round(v, 2));

/**
 * One live line per running stage: done/total, the rate over the last seconds and an ETA.
 * On a terminal it rewrites itself; otherwise it prints a line every few seconds.
 */
export class Progress {
  constructor(label, total, unit = 'events') {
    this.label = label;
    this.total = total;
    this.unit = unit;
    this.started = now();
    this.samples = [{ t: this.started, done: 0 }];
    this.done = 0;
    this.note = '';
    this.tty = Boolean(process.stdout.isTTY);
    this.lastPrint = 0;
    this.timer = setInterval(() => this.render(false), this.tty ? 250 : 5_000);
    this.timer.unref();
  }

  update(done, note) {
    this.done = done;
    if (note !== undefined) this.note = note;
  }

  render(final) {
    const t = now();
    this.samples.push({ t, done: this.done });
    while (this.samples.length > 2 && t - this.samples[0].t > 3_000) this.samples.shift();
    const first = this.samples[0];
    const rate = t > first.t ? ((this.done - first.done) * 1000) / (t - first.t) : 0;
    const left = this.total - this.done;
    const eta = rate > 0 && left > 0 ? ` ETA ${fmtSeconds((left / rate) * 1000)}` : '';
    const pct = this.total > 0 ? Math.min(100, (100 * this.done) / this.total).toFixed(0) : '0';
    const line =
      `  ${this.label}: ${fmtInt(this.done)}/${fmtInt(this.total)} ${this.unit} (${pct}%), ` +
      `${fmtInt(rate)} ${this.unit}/s,${eta} elapsed ${fmtSeconds(t - this.started)}` +
      (this.note ? ` | ${this.note}` : '');
    if (this.tty) process.stdout.write(`\r\x1b[K${line}${final ? '\n' : ''}`);
    else if (final || t - this.lastPrint >= 4_900) process.stdout.write(`${line}\n`);
    this.lastPrint = t;
  }

  finish() {
    clearInterval(this.timer);
    this.render(true);
  }
}

export function log(message) {
  process.stdout.write(`${message}\n`);
}

/** A plain text table; numbers right-aligned. */
export function table(headers, rows) {
  const cells = [headers, ...rows].map((row) => row.map((cell) => String(cell ?? '-')));
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => row[i].length)));
  const numeric = headers.map((_, i) =>
    rows.every((row) => /^[-\d.,%x× ]*(ms|s|\/s)?$/.test(String(row[i] ?? '-'))),
  );
  const line = (row) =>
    row
      .map((cell, i) => (numeric[i] ? cell.padStart(widths[i]) : cell.padEnd(widths[i])))
      .join(' | ');
  const rule = widths.map((w) => '-'.repeat(w)).join('-|-');
  return [line(cells[0]), rule, ...cells.slice(1).map(line)].join('\n');
}

/**
 * Horizontal histogram of latencies (ms): equal-width buckets with a round step (1, 2 or 5 times
 * a power of ten) from the fastest sample to the 99th percentile, one more bucket for the slow
 * tail; each row shows its count and the cumulative share.
 */
export function histogram(values, width = 50, rows = 16) {
  if (values.length === 0) return '(no samples)';
  const min = Math.min(...values);
  const max = Math.max(...values);
  const top = percentile(values, 99);
  let step = 1e-3;
  for (const candidate of [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000]) {
    step = candidate;
    if ((top - Math.floor(min / candidate) * candidate) / candidate <= rows) break;
  }
  const low = Math.floor(min / step) * step;
  const buckets = Math.max(1, Math.ceil((top - low) / step + 1e-9));
  const counts = new Array(buckets).fill(0);
  let tail = 0;
  for (const v of values) {
    const i = Math.floor((v - low) / step);
    if (i < buckets) counts[i]++;
    else tail++;
  }
  const digits = step < 1 ? 1 : 0;
  const labels = counts.map(
    (_, i) => `${(low + i * step).toFixed(digits)}–${(low + (i + 1) * step).toFixed(digits)} ms`,
  );
  if (tail > 0) labels.push(`${(low + buckets * step).toFixed(digits)}–${max.toFixed(digits)} ms`);
  const all = tail > 0 ? [...counts, tail] : counts;
  const peak = Math.max(...all);
  const labelWidth = Math.max(...labels.map((l) => l.length));
  let cumulative = 0;
  return all
    .map((count, i) => {
      cumulative += count;
      const bar = '█'.repeat(Math.round((count / peak) * width)) || (count > 0 ? '▏' : '');
      const share = ((100 * cumulative) / values.length).toFixed(1).padStart(5);
      return `  ${labels[i].padStart(labelWidth)} | ${bar.padEnd(width)} ${String(count).padStart(5)}  ${share}%`;
    })
    .join('\n');
}
