/**
 * Active scan on suspicion, rate-limited: the first request goes out at once; requests within `minIntervalMs`
 * of the last one are merged (host lists united, "all hosts" wins) and sent when the interval has passed.
 * The same VM does not trigger more than once per `perVmMs`, so a flood of suspicious beacons costs one scan.
 */
export class ScanRequester {
  private lastAt = -Infinity;
  private pending: Set<string> | 'all' | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly perVm = new Map<string, number>();

  constructor(
    private readonly send: ((hosts?: string[]) => void) | undefined,
    private readonly now: () => number,
    private readonly minIntervalMs = 1000,
    private readonly perVmMs = 10_000,
    private readonly maxTracked = 10_000,
  ) {}

  /** hosts undefined = all hosts */
  request(vm: string, hosts?: string[]): void {
    if (!this.send) return;
    const t = this.now();
    const last = this.perVm.get(vm);
    if (last !== undefined && t - last < this.perVmMs) return;
    if (this.perVm.size >= this.maxTracked) this.perVm.clear(); // bounded; forgetting only allows one more scan
    this.perVm.set(vm, t);
    if (!hosts || hosts.length === 0) this.pending = 'all';
    else if (this.pending !== 'all') {
      this.pending ??= new Set();
      for (const h of hosts) this.pending.add(h);
    }
    if (t - this.lastAt >= this.minIntervalMs) this.fire();
    else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.fire();
      }, this.minIntervalMs - (t - this.lastAt));
      this.timer.unref?.();
    }
  }

  private fire(): void {
    const p = this.pending;
    this.pending = undefined;
    if (!p || !this.send) return;
    this.lastAt = this.now();
    this.send(p === 'all' ? undefined : [...p].sort());
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
