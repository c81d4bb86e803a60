import { cleanIps } from '../model/addresses.js';
import { sameList } from '../model/lists.js';
import { duplicateMac, ipConflict, type IpClaim, type MacClaim } from './detectors/index.js';
import { currentActive, type FindingDraft, type InstanceState, type VmState } from './state.js';

/** What the claims need to know about the world around one identity. */
export interface ClaimContext {
  now: number;
  silentAfterMs: number;
  hostUp(host: string): boolean;
  /** the identity's display name (asked only when a claim changes) */
  name(): string;
}

/** Where judged claims go: the engine's findings. */
export interface ClaimSink {
  raise(d: FindingDraft, uuids: readonly string[], now: number): string;
  settle(subject: string, next: Set<string> | undefined, now: number): void;
  hasSubject(subject: string): boolean;
}

/**
 * Who claims which MAC (per live instance and host) and which IP (per identity: its recent beacon's, else what the
 * scans saw), plus arpwatch-style flip counts for contested IPs. Updates return the MACs / IPs whose claims changed,
 * for the DUPLICATE_MAC and IP_CONFLICT detectors to judge again.
 */
export class ClaimIndex {
  private readonly macs = new Map<string, Map<string, MacClaim>>();
  private readonly ips = new Map<string, Map<string, IpClaim>>();
  private readonly flips = new Map<string, { last: string; flips: number }>();

  private flipsOf(ip: string): number {
    return this.flips.get(ip)?.flips ?? 0;
  }

  /** The MACs of the identity's active instances on up hosts. @returns the MACs to judge again */
  updateMacs(vm: VmState, ctx: ClaimContext): Set<string> {
    const next: string[] = [];
    for (const i of currentActive(vm, ctx)) for (const m of i.macs) next.push(`${m}\t${i.host}`);
    next.sort();
    const dirty = new Set<string>();
    if (sameList(next, vm.activeMacs)) return dirty;
    const claimKey = (e: string): string => `${vm.uuid}\t${e.slice(e.indexOf('\t') + 1)}`;
    for (const e of vm.activeMacs) {
      const mac = e.slice(0, e.indexOf('\t'));
      const m = this.macs.get(mac);
      m?.delete(claimKey(e));
      if (m && m.size === 0) this.macs.delete(mac);
      dirty.add(mac);
    }
    const name = ctx.name();
    for (const e of next) {
      const tab = e.indexOf('\t');
      const mac = e.slice(0, tab);
      let m = this.macs.get(mac);
      if (!m) this.macs.set(mac, (m = new Map()));
      m.set(claimKey(e), { uuid: vm.uuid, name, host: e.slice(tab + 1) });
      dirty.add(mac);
    }
    vm.activeMacs = next;
    return dirty;
  }

  /**
   * What the identity claims now: its recent beacon's IPs, else the IPs scans saw on its live instances. A beacon
   * also counts flips of contested IPs. @returns the IPs to judge again, and whether the identity's claim changed
   */
  updateIps(vm: VmState, ctx: ClaimContext, fromBeacon: boolean): { dirty: Set<string>; changed: boolean } {
    const recent = vm.beacon !== undefined && ctx.now - vm.beacon.at <= ctx.silentAfterMs;
    const liveOf = (): InstanceState[] => currentActive(vm, ctx);
    let live: InstanceState[] | undefined;
    const next = recent ? vm.beacon!.ips : [...new Set((live = liveOf()).flatMap((i) => cleanIps(i.ips)))].sort();
    const dirty = new Set<string>();
    const changed = !sameList(next, vm.claimedIps);
    if (!changed && (!fromBeacon || next.length === 0)) return { dirty, changed };
    if (changed) {
      live ??= liveOf();
      for (const ip of vm.claimedIps) {
        const m = this.ips.get(ip);
        m?.delete(vm.uuid);
        if (m && m.size === 0) this.ips.delete(ip);
        dirty.add(ip);
      }
      const name = ctx.name();
      const hosts = [...new Set(live.map((i) => i.host))].sort();
      const source = recent ? `beacon from ${vm.beacon!.from}` : `scan of ${[...new Set(live.map((i) => i.host))].join(', ')}`;
      for (const ip of next) {
        let m = this.ips.get(ip);
        if (!m) this.ips.set(ip, (m = new Map()));
        m.set(vm.uuid, { uuid: vm.uuid, name, source, hosts });
        dirty.add(ip);
      }
      vm.claimedIps = next;
    }
    if (fromBeacon) this.countFlips(vm.uuid, next, dirty);
    return { dirty, changed };
  }

  /** DUPLICATE_MAC for one MAC, judged again: raised while two identities claim it, settled otherwise */
  judgeMac(mac: string, now: number, sink: ClaimSink): void {
    const claims = this.macs.get(mac);
    const subject = `mac:${mac}`;
    if ((claims?.size ?? 0) < 2 && !sink.hasSubject(subject)) return;
    const d = claims ? duplicateMac(mac, [...claims.values()]) : undefined;
    const next = d ? new Set([sink.raise(d, [...new Set([...claims!.values()].map((c) => c.uuid))], now)]) : undefined;
    sink.settle(subject, next, now);
  }

  /** IP_CONFLICT for one IP, judged again (with its flip count) */
  judgeIp(ip: string, now: number, sink: ClaimSink): void {
    const claims = this.ips.get(ip);
    const subject = `ip:${ip}`;
    if ((claims?.size ?? 0) < 2 && !sink.hasSubject(subject)) return void this.flips.delete(ip);
    const d = claims ? ipConflict(ip, [...claims.values()], this.flipsOf(ip)) : undefined;
    if (!d) this.flips.delete(ip);
    const next = d ? new Set([sink.raise(d, [...claims!.keys()], now)]) : undefined;
    sink.settle(subject, next, now);
  }

  /** forget every IP claim of an identity that is forgotten */
  forget(vm: VmState): void {
    for (const ip of vm.claimedIps) this.ips.get(ip)?.delete(vm.uuid);
  }

  /** arpwatch-style flip-flop: count each time a contested IP's latest claimant changes */
  private countFlips(uuid: string, ips: readonly string[], dirty: Set<string>): void {
    for (const ip of ips) {
      if ((this.ips.get(ip)?.size ?? 0) < 2) continue;
      const f = this.flips.get(ip);
      if (!f) this.flips.set(ip, { last: uuid, flips: 1 });
      else if (f.last !== uuid) {
        f.last = uuid;
        f.flips++;
        dirty.add(ip);
      }
    }
  }
}
