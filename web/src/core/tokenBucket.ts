// Paces a sender to an average rate. A frame may go whenever the bucket is not in debt,
// and its size is then charged in full, so frames larger than the burst still pass while
// the average holds. Times are milliseconds.

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly bytesPerSecond: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.last = now;
  }

  private refill(now: number): void {
    if (now <= this.last) return;
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.bytesPerSecond);
    this.last = now;
  }

  ready(now: number): boolean {
    this.refill(now);
    return this.tokens >= 0;
  }

  consume(bytes: number): void {
    this.tokens -= bytes;
  }

  // When the bucket is next out of debt.
  readyAt(now: number): number {
    let tokens = this.tokens;
    if (now > this.last) {
      tokens = Math.min(this.burst, tokens + ((now - this.last) / 1000) * this.bytesPerSecond);
    }
    if (tokens >= 0) return now;
    // A microsecond more, so that ready() at that time holds despite rounding.
    return now + (-tokens / this.bytesPerSecond) * 1000 + 0.001;
  }
}
