import { expect } from 'vitest';
import { Engine, type EngineOptions } from '../../src/billboard/engine.js';
import { parseDomainXml } from '../../src/hosts/domain-xml.js';
import { testDriverXml, type TestDomainSpec } from '../../src/demo/lab-xml.js';
import type {
  BeaconEvent,
  BeaconVerdict,
  DomainInfo,
  Finding,
  FindingCode,
  HostStatus,
  Inventory,
  Registration,
} from '../../src/model/types.js';
import { FakeStore, approved } from '../helpers/fake-store.js';

// Scenario harness: timed inputs (scans of libvirt test-driver domain XML parsed by the real hosts/ parser,
// beacon events as the listener emits them) replayed through the real Engine on an injected clock.

export const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
export const INTERVAL_S = 5;
export const MISSED = 3;

export interface Dom {
  uuid: string;
  name: string;
  state?: TestDomainSpec['state'];
  macs?: string[];
  memoryKiB?: number;
  /** IPs libvirt reports for the first NIC */
  ips?: string[];
  os?: string;
}

/** DomainInfo exactly as a scan of a test-driver host would produce it (real XML, real parser, real hash). */
export function domain(d: Dom): DomainInfo {
  const spec: TestDomainSpec = {
    uuid: d.uuid,
    name: d.name,
    state: d.state ?? 'running',
    macs: d.macs ?? [],
    memoryKiB: d.memoryKiB ?? 524288,
    vcpus: 1,
    os: d.os,
  };
  const node = testDriverXml([spec]);
  const xml = /<domain type='test'>[\s\S]*?<\/domain>/.exec(node)![0].replace(/\s*<test:runstate[^>]*>\d+<\/test:runstate>/, '');
  const ips = new Map<string, string[]>();
  if (d.ips && spec.macs[0]) ips.set(spec.macs[0].toLowerCase(), d.ips);
  return parseDomainXml(xml, { state: spec.state, ips });
}

export interface Input {
  /** seconds since T0 */
  at: number;
  scan?: { host: string; domains: Dom[] };
  beacon?: Partial<Omit<BeaconEvent, 'beacon' | 'from'>> & {
    uuid: string;
    name?: string;
    bootId?: string;
    seq?: number;
    ips?: string[];
    macs?: string[];
    from?: string;
    verdict?: BeaconVerdict;
    publicKey?: string;
  };
  hosts?: { name: string; up: boolean }[];
  do?: (s: Scenario) => void | Promise<void>;
}

export class Scenario {
  t = T0;
  readonly store: FakeStore;
  readonly engine: Engine;
  readonly events: Finding[] = [];
  readonly scanRequests: (string[] | undefined)[] = [];
  readonly enforced: { action: string; uuid: string; host: string }[] = [];
  private seqs = new Map<string, number>();

  constructor(opts: { registrations?: Registration[]; engine?: Partial<EngineOptions>; findings?: Finding[] } = {}) {
    this.store = new FakeStore({ registrations: opts.registrations, findings: opts.findings }, () => this.t);
    this.engine = new Engine({
      store: this.store,
      beaconIntervalS: INTERVAL_S,
      missedBeforeSilent: MISSED,
      enforcement: 'ask',
      now: () => this.t,
      requestScan: (h) => this.scanRequests.push(h),
      enforce: async (action, uuid, host) => {
        this.enforced.push({ action, uuid, host });
        return true;
      },
      ...opts.engine,
    });
    this.engine.on('finding', (f: Finding) => this.events.push(f));
  }

  beaconEvent(b: NonNullable<Input['beacon']>): BeaconEvent {
    const reg = this.store.registration(b.uuid);
    const bootId = b.bootId ?? `boot-${b.uuid.slice(0, 8)}`;
    const k = `${b.uuid}/${bootId}`;
    const seq = b.seq ?? (this.seqs.get(k) ?? 0) + 1;
    this.seqs.set(k, seq);
    const publicKey = b.publicKey ?? reg?.publicKey ?? keyFor(b.uuid);
    return {
      verdict: b.verdict ?? (reg?.publicKey === publicKey ? 'valid' : 'unknown-key'),
      beacon: {
        v: 1,
        uuid: b.uuid,
        name: b.name ?? reg?.name ?? 'vm',
        macs: b.macs ?? reg?.macs ?? [],
        ips: b.ips ?? [],
        os: 'Debian GNU/Linux 12',
        hostname: b.name ?? 'vm',
        bootId,
        seq,
        ts: this.t,
        keyFp: reg?.keyFp ?? 'SHA256:x',
      },
      publicKey,
      from: { address: b.from ?? '10.0.0.5', port: 40000 },
      receivedAt: this.t,
      reason: b.reason,
    };
  }

  /** Replay inputs in time order; the engine is ticked every second in between, as the console does. */
  async run(inputs: Input[], untilS?: number): Promise<void> {
    const sorted = [...inputs].sort((a, b) => a.at - b.at);
    const end = untilS ?? (sorted.length ? sorted[sorted.length - 1].at : 0);
    let i = 0;
    for (let s = (this.t - T0) / 1000; s <= end; s++) {
      this.t = T0 + s * 1000;
      while (i < sorted.length && sorted[i].at <= s) {
        const inp = sorted[i++];
        this.t = T0 + inp.at * 1000;
        if (inp.hosts) this.engine.hostStatuses(inp.hosts.map(hostStatus));
        if (inp.scan) this.engine.ingestInventory(inventory(inp.scan.host, inp.scan.domains.map(domain), this.t));
        if (inp.beacon) this.engine.ingestBeacon(this.beaconEvent(inp.beacon));
        if (inp.do) await inp.do(this);
      }
      this.t = T0 + s * 1000;
      this.engine.tick();
      await new Promise((r) => setImmediate(r)); // let registration requests / enforcement settle
    }
  }

  open(code?: FindingCode): Finding[] {
    return this.engine.findings().filter((f) => !code || f.code === code);
  }

  expectOnly(...codes: FindingCode[]): void {
    expect([...new Set(this.open().map((f) => f.code))].sort()).toEqual([...codes].sort());
  }

  expectClean(): void {
    expect(this.open().map((f) => `${f.code}: ${f.evidence}`)).toEqual([]);
    expect(this.engine.findings(true).map((f) => `${f.code}: ${f.evidence}`)).toEqual([]);
  }
}

export function hostStatus(h: { name: string; up: boolean }): HostStatus {
  return {
    name: h.name,
    driver: 'libvirt',
    target: `test:///${h.name}.xml`,
    up: h.up,
    consecutiveFailures: h.up ? 0 : 1,
    domains: 0,
    running: 0,
  };
}

export function inventory(host: string, domains: DomainInfo[], at: number): Inventory {
  return { host, at, durationMs: 5, domains };
}

export function keyFor(uuid: string): string {
  return Buffer.from(uuid.replace(/-/g, '').slice(0, 32).padEnd(32, '0')).toString('base64');
}

/** An approved, keyed VM as the operator's approve would leave it (home host + definition bound). */
export function approvedVm(uuid: string, name: string, extra: Partial<Registration> = {}): Registration {
  const d = domain({ uuid, name, macs: extra.macs ?? [] });
  return approved({ uuid, name, publicKey: keyFor(uuid), definitionHash: d.definitionHash, ...extra });
}

/** beacons every INTERVAL_S from `from` to `to` seconds */
export function beaconsEvery(from: number, to: number, b: NonNullable<Input['beacon']>): Input[] {
  const out: Input[] = [];
  for (let s = from; s <= to; s += INTERVAL_S) out.push({ at: s, beacon: b });
  return out;
}

/** scans of `host` every `every` seconds */
export function scansEvery(from: number, to: number, every: number, host: string, domains: Dom[] | ((s: number) => Dom[])): Input[] {
  const out: Input[] = [];
  for (let s = from; s <= to; s += every)
    out.push({ at: s, scan: { host, domains: typeof domains === 'function' ? domains(s) : domains } });
  return out;
}

export const U = (n: number): string => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
export const MAC = (n: number): string => `52:54:00:00:00:${n.toString(16).padStart(2, '0')}`;
