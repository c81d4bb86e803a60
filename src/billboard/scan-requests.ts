/**
 * Active scan on suspicion, rate-limited: the first request goes out at once; requests within `minIntervalMs`
 * of the last one are merged (host lists united, "all hosts" wins) and sent when the interval has passed.
 * The same VM does not trigger more than once per `perVmMs`, so a flood of suspicious beacons costs one scan.
 * An all-hosts request on evidence nobody had to sign (`untrusted`) goes out at most once per `untrustedAllMs`
 * and is dropped otherwise: fresh UUIDs cost nothing per UUID, and the periodic scan finds real newcomers.
 */
export class ScanRequester {
  private lastAt = -Infinity;
  private pending: Set<string> | 'all' | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly perVm = new Map<string, number>();
  private untrustedAllAt = -Infinity;

  constructor(
    private readonly send: ((hosts?: string[]) => void) | undefined,
    private readonly now: () => number,
    private readonly minIntervalMs = 1000,
    private readonly perVmMs = 10_000,
    private readonly maxTracked = 10_000,
    private readonly untrustedAllMs = 15_000,
  ) {}

  /** hosts undefined = all hosts */
  request(vm: string, hosts?: string[], opts: { untrusted?: boolean } = {}): void {
    if (!this.send) return;
    const t = this.now();
    if (opts.untrusted && (!hosts || hosts.length === 0)) {
      if (t - this.untrustedAllAt < this.untrustedAllMs) return;
      this.untrustedAllAt = t;
    }
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
      this.timer = setTimeout(
        () => {
          this.timer = undefined;
          this.fire();
        },
        this.minIntervalMs - (t - this.lastAt),
      );
      this.timer.unref?.();
    }
  }

  /**
   * A scan for suspicious evidence about one identity. Evidence a key holder produced may scan every host (a new
   * identity is looked for everywhere); evidence nobody had to sign scans only the hosts where the identity already
   * runs, or all hosts as an untrusted request, so an outsider cannot order lab-wide scans.
   */
  forEvidence(vm: string, hostsOfVm: string[], authenticated: boolean): void {
    if (authenticated) this.request(vm, undefined);
    else if (hostsOfVm.length) this.request(vm, hostsOfVm);
    else this.request(vm, undefined, { untrusted: true });
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
