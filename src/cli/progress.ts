// A one-line progress bar on a TTY (redrawn in place); on a pipe/CI, a plain line every `every` updates.
export class ProgressBar {
  private readonly start = performance.now();
  private startCount: number;
  private lastLen = 0;
  constructor(private readonly total: number, private readonly label: string, startAt = 0,
    private readonly stream: NodeJS.WriteStream = process.stderr, private readonly every = 50) {
    this.startCount = startAt;
  }

  update(done: number, fields: Record<string, string> = {}): void {
    const elapsed = (performance.now() - this.start) / 1000;
    const rate = (done - this.startCount) / Math.max(elapsed, 1e-9);
    const eta = rate > 0 ? (this.total - done) / rate : 0;
    const width = 24, filled = Math.round((width * done) / this.total);
    const bar = '='.repeat(Math.max(0, filled - 1)) + (filled > 0 ? '>' : '') + ' '.repeat(width - filled);
    const extra = Object.entries(fields).map(([k, v]) => `${k} ${v}`).join('  ');
    const line = `${this.label} ${done}/${this.total} [${bar}] ${extra}  ${rate.toFixed(2)} it/s  ETA ${formatDuration(eta)}`;
    if (this.stream.isTTY) {
      this.stream.write('\r' + line + ' '.repeat(Math.max(0, this.lastLen - line.length)));
      this.lastLen = line.length;
      if (done >= this.total) this.stream.write('\n');
    } else if (done % this.every === 0 || done >= this.total || done === this.startCount + 1) {
      this.stream.write(line + '\n');
    }
  }
}

export function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60), sec = Math.floor(s % 60);
  return m >= 60 ? `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m` : `${m}:${String(sec).padStart(2, '0')}`;
}
