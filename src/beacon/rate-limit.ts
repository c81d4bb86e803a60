// Per-source token buckets: a flood from one address spends only that address's tokens, so it cannot starve
// the rest of the fleet. The table is bounded (oldest entry dropped) because spoofed sources can fill it.

export interface RateLimit {
  /** sustained datagrams per second per source address */
  perSecond: number;
  /** bucket size: how many may arrive at once */
  burst: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class SourceRateLimiter {
  private buckets = new Map<string, Bucket>();

  constructor(
    readonly limit: RateLimit,
    readonly maxSources = 65_536,
  ) {}

  /** Take one token for `source` at time `now` (ms); false when that source is over its rate. */
  take(source: string, now: number): boolean {
    let b = this.buckets.get(source);
    if (!b) {
      if (this.buckets.size >= this.maxSources) this.buckets.delete(this.buckets.keys().next().value!);
      b = { tokens: this.limit.burst, at: now };
      this.buckets.set(source, b);
    } else if (now > b.at) {
      b.tokens = Math.min(this.limit.burst, b.tokens + ((now - b.at) * this.limit.perSecond) / 1000);
      b.at = now;
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  get size(): number {
    return this.buckets.size;
  }

  clear(): void {
    this.buckets.clear();
  }
}
