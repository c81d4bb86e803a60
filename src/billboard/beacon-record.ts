import { cleanIps } from '../model/addresses.js';
import { canonicalMac } from '../model/fingerprint.js';
import { sameList } from '../model/lists.js';
import { nameProblem, safeText } from '../model/text.js';
import type { BeaconEvent } from '../model/types.js';
import type { BeaconIncident, VmState } from './state.js';

export interface BeaconWindows {
  silentAfterMs: number;
  incidentWindowMs: number;
}

/** A suspicious beacon remembered: counted while the incident is fresh, authenticated if any of it was. */
export function incident(
  cur: BeaconIncident | undefined,
  now: number,
  from: string,
  reason: string,
  authenticated: boolean,
  w: BeaconWindows,
): BeaconIncident {
  const fresh = cur !== undefined && now - cur.at <= w.incidentWindowMs;
  return {
    at: now,
    from,
    reason,
    count: fresh ? cur.count + 1 : 1,
    authenticated: fresh ? cur.authenticated || authenticated : authenticated,
  };
}

/**
 * Record an accepted beacon as the identity's latest word, every field of it made safe (names that break the name
 * rule are not names). Notices a clone: the boot id before the current one coming back while it is fresh (two
 * boots interleaving), or the listener saying so. @returns whether it calls for a scan
 */
export function recordBeacon(vm: VmState, ev: Readonly<BeaconEvent>, authenticated: boolean, now: number, w: BeaconWindows): boolean {
  const b = ev.beacon;
  const from = ev.from.address;
  let suspicious = false;
  const prev = vm.beacon;
  if (prev && prev.bootId !== b.bootId) {
    if (vm.prevBoot?.bootId === b.bootId && now - vm.prevBoot.at <= w.incidentWindowMs) {
      const both = [`boot ${short(b.bootId)} from ${from}`, `boot ${short(prev.bootId)} from ${prev.from}`].sort().join(' and ');
      vm.clone = incident(vm.clone, now, from, safeText(both), authenticated, w);
      suspicious = true;
    } else if (now - prev.at <= w.silentAfterMs && prev.from !== from) {
      suspicious = true; // a new boot from a new address while the old one was alive: clone or reboot+DHCP
    }
    vm.prevBoot = Object.freeze({ bootId: prev.bootId, from: prev.from, at: prev.at });
  }
  if (ev.verdict === 'clone-suspect') {
    vm.clone = incident(vm.clone, now, from, safeText(ev.reason ?? 'listener saw two boot ids interleaving'), authenticated, w);
    suspicious = true;
  }
  const name = safeText(b.name, 64);
  const ips = cleanIps(b.ips);
  const macs = (b.macs ?? []).map((m) => canonicalMac(String(m))).filter((m): m is string => m !== undefined);
  vm.beacon = {
    at: now,
    receivedAt: ev.receivedAt,
    from,
    bootId: safeText(b.bootId, 64),
    seq: b.seq,
    // An agent says the same addresses beacon after beacon: the lists it said before are kept (they are never
    // mutated), so a beacon leaves no new arrays behind. Each lives until the identity's next beacon, about a
    // second at 10,000 beacons/s, long enough for V8 to promote it and leave it in the old generation as garbage.
    ips: prev && sameList(prev.ips, ips) ? prev.ips : ips,
    macs: prev && sameList(prev.macs, macs) ? prev.macs : macs,
    os: safeText(b.os),
    keyFp: safeText(b.keyFp, 60),
    name: name && !nameProblem(name) ? name : vm.uuid,
    publicKey: ev.publicKey ?? prev?.publicKey,
    since: prev && now - prev.at <= w.silentAfterMs ? prev.since : now,
  };
  return suspicious;
}

function short(id: string): string {
  return safeText(id, 8).slice(0, 8);
}
