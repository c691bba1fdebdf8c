// How many agents run at once: at most `-j`, less while the model API says it is too busy. An
// agent refused with a 429 or 529 before it did any work halves the limit (AIMD, as TCP and Inspect
// AI's adaptive connections do); a full round of successes (as many as the limit) raises it by one.
// One per success would probe again after every second success, each probe a refused start.
// Places taken from the free pool (the first wave, a raised limit) start `gapMs` apart, so that a
// burst of starts does not trip the API's limiter; a place an ended agent hands over starts at once.
// A pause (a usage limit, until its reset) holds every start; `close()` ends the waiting for good.

/** A change of the limit, as the manifest keeps it and the output says it. */
export interface ConcurrencyChange {
  at: string;
  from: number;
  to: number;
  reason: string;
}

/** What a place holder gives back: `leave()`, and the limit's generation when it started (see rateLimited). */
export interface Place {
  leave(): void;
  generation: number;
  /** No other agent ran when it started, and none could start beside it (the limit was 1). */
  alone: boolean;
}

export class AdaptiveLimit {
  private limitNow: number;
  private running = 0;
  private generation = 0;
  private successes = 0;
  private readonly waiting: (() => void)[] = [];
  private nextFreeStart = 0;
  private pause?: { until: number; timer: NodeJS.Timeout; over: Promise<void>; end: () => void };
  private closed = false;
  readonly changes: ConcurrencyChange[] = [];

  constructor(
    readonly max: number,
    private readonly gapMs = 0,
    private readonly onChange: (change: ConcurrencyChange) => void = () => undefined,
  ) {
    this.limitNow = max;
  }

  get limit(): number {
    return this.limitNow;
  }

  /**
   * Waits for a place under the limit, and past any pause; the place is left once, however often
   * `leave` is called. Once closed, it returns at once: the caller must look why and not start.
   */
  async take(): Promise<Place> {
    const handedOver = this.running >= this.limitNow || this.waiting.length > 0;
    if (this.closed) this.running++;
    else if (handedOver) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else {
      this.running++;
      await this.spaced();
    }
    // The starts a pause held go one after another, as the first wave's do.
    let paused = false;
    while (this.pause && !this.closed) {
      paused = true;
      await this.pause.over;
    }
    if (paused && !this.closed) await this.spaced();
    let left = false;
    return {
      generation: this.generation,
      alone: this.limitNow === 1 && this.running === 1,
      leave: () => {
        if (left) return;
        left = true;
        this.running--;
        this.wake();
      },
    };
  }

  /**
   * An attempt that started at `generation` was refused for being too many: the limit halves,
   * once for the attempts started under one limit (a burst of refusals is one signal).
   */
  rateLimited(generation: number, reason: string): void {
    if (generation !== this.generation || this.limitNow === 1) return;
    this.change(Math.max(1, Math.floor(this.limitNow / 2)), reason);
  }

  /** An attempt got through: after a round of them at this limit, one more place. */
  succeeded(): void {
    if (this.limitNow >= this.max) return;
    if (++this.successes < this.limitNow) return;
    this.change(this.limitNow + 1, `${this.limitNow} in a row got through`);
    this.wake();
  }

  /** No start until `until` (epoch ms), or later if already so; false when the pause already lasts that long. */
  pauseUntil(until: number): boolean {
    if (this.closed || until <= (this.pause?.until ?? Date.now())) return false;
    if (this.pause) clearTimeout(this.pause.timer);
    else {
      let end!: () => void;
      const over = new Promise<void>((resolve) => (end = resolve));
      this.pause = { until, over, end, timer: undefined as unknown as NodeJS.Timeout };
    }
    this.pause.until = until;
    this.pause.timer = setTimeout(() => this.endPause(), until - Date.now());
    return true;
  }

  /** No more places: every `take`, waiting or to come, returns at once (the run stops starting agents). */
  close(): void {
    this.closed = true;
    this.endPause();
    for (const resolve of this.waiting.splice(0)) {
      this.running++;
      resolve();
    }
  }

  private endPause(): void {
    if (!this.pause) return;
    clearTimeout(this.pause.timer);
    const { end } = this.pause;
    this.pause = undefined;
    end();
  }

  private change(to: number, reason: string): void {
    const change = { at: new Date().toISOString(), from: this.limitNow, to, reason };
    this.limitNow = to;
    this.generation++;
    this.successes = 0;
    this.changes.push(change);
    this.onChange(change);
  }

  /** Hands free places (under the limit) to those waiting, first come first served. */
  private wake(): void {
    while (this.running < this.limitNow && this.waiting.length > 0) {
      this.running++;
      this.waiting.shift()!();
    }
  }

  /** A start from the free pool waits until `gapMs` after the one before it. */
  private async spaced(): Promise<void> {
    if (this.gapMs <= 0) return;
    const now = Date.now();
    const at = Math.max(now, this.nextFreeStart);
    this.nextFreeStart = at + this.gapMs;
    if (at > now) await new Promise((resolve) => setTimeout(resolve, at - now));
  }
}
