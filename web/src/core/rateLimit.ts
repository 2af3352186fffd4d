// A participant's send allowance: a token bucket on bytes and one on messages, refilled
// at their rates, each holding at most `burstSeconds` of its rate. The server enforces it
// on what arrives; the SDK holds its sends to the same rates so that a message over them
// fails at once with TRAFFIC_LIMITED instead of being dropped by the server.
// Pure: the caller passes the time (milliseconds).

interface Bucket {
  rate: number; // per second; 0 = unlimited
  burst: number;
  tokens: number;
}

export class RateLimit {
  private readonly byteBucket: Bucket;
  private readonly messageBucket: Bucket;
  private last: number;

  // A rate of 0 leaves that dimension unlimited; no arguments = unlimited.
  constructor(bytesPerSecond = 0, messagesPerSecond = 0, burstSeconds = 1, now = 0) {
    const bucket = (rate: number): Bucket => ({ rate, burst: rate * burstSeconds, tokens: rate * burstSeconds });
    this.byteBucket = bucket(bytesPerSecond);
    this.messageBucket = bucket(messagesPerSecond);
    this.last = now;
  }

  get unlimited(): boolean {
    return this.byteBucket.rate === 0 && this.messageBucket.rate === 0;
  }

  private refill(now: number): void {
    if (now <= this.last) return;
    const seconds = (now - this.last) / 1000;
    this.last = now;
    for (const b of [this.byteBucket, this.messageBucket]) {
      b.tokens = Math.min(b.burst, b.tokens + seconds * b.rate);
    }
  }

  // Whether one message of `bytes` fits now. A message larger than the byte burst fits
  // when the bucket is full and leaves it in debt, so the average still holds.
  allows(bytes: number, now: number): boolean {
    if (this.unlimited) return true;
    this.refill(now);
    const b = this.byteBucket;
    if (b.rate > 0 && b.tokens < Math.min(bytes, b.burst)) return false;
    return this.messageBucket.rate === 0 || this.messageBucket.tokens >= 1;
  }

  // Charges one message of `bytes` (after allows()).
  take(bytes: number): void {
    if (this.byteBucket.rate > 0) this.byteBucket.tokens -= bytes;
    if (this.messageBucket.rate > 0) this.messageBucket.tokens -= 1;
  }

  // allows() then take(): true, and charged, when the message fits.
  admit(bytes: number, now: number): boolean {
    if (!this.allows(bytes, now)) return false;
    this.take(bytes);
    return true;
  }
}
