/**
 * A block of lines redrawn in place on a terminal (cursor up, clear, rewrite) a few times a
 * second. Written by hand: it is twenty lines, and log-update needs Node 22.
 */
export class LiveView {
  private drawn = 0;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly lines: () => string[],
  ) {}

  start(intervalMs = 250): void {
    this.draw();
    this.timer = setInterval(() => this.draw(), intervalMs);
    this.timer.unref();
  }

  draw(): void {
    const lines = this.lines();
    const up = this.drawn > 0 ? `\x1b[${this.drawn}A\r\x1b[J` : '';
    this.stream.write(up + lines.map((l) => `${l}\n`).join(''));
    this.drawn = lines.length;
  }

  /** Draws the last state and leaves it on screen, or erases it when something replaces it. */
  stop(keep = true): void {
    clearInterval(this.timer);
    if (keep) this.draw();
    else if (this.drawn > 0) this.stream.write(`\x1b[${this.drawn}A\r\x1b[J`);
    this.drawn = 0;
  }
}
