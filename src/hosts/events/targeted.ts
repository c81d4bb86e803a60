import type { HostDriver } from '../../model/host-driver.js';
import type { DomainInfo, HostStatus, Inventory } from '../../model/types.js';
import { isRunningOrPaused } from '../domain-xml.js';
import type { EventStreamStats } from './stream.js';

// Pure helpers of the scanner's event side: a targeted rescan folded into the host's last inventory, and a host's
// event stream as HostStatus fields.

/** one domain a targeted rescan looked at: what the event called it, and what the host has now (null: none) */
export interface TargetedFound {
  uuid: string;
  name: string;
  info: DomainInfo | null;
}

/**
 * The last inventory with the targets replaced (or removed, when the host has them no longer). Undefined when a
 * target answers to another name than its event gave, or when that name is another domain's now: the names moved
 * under the events, and only a whole scan says which domain is which.
 */
export function mergeTargeted(last: Inventory, found: TargetedFound[], started: number, at = Date.now()): Inventory | undefined {
  const byUuid = new Map(last.domains.map((d) => [d.uuid, d]));
  for (const f of found) {
    if (f.info && f.info.name !== f.name) return undefined;
    const other = last.domains.find((d) => d.name === f.name && d.uuid !== f.uuid);
    if (f.info && other && !found.some((g) => g.uuid === other.uuid)) return undefined;
    if (f.info) byUuid.set(f.uuid, f.info);
    else byUuid.delete(f.uuid);
  }
  const domains = keepSavedDefinitions(last, [...byUuid.values()], false); // a target whose saved one was unread
  return { ...last, at, durationMs: at - started, domains, targeted: found.map((f) => f.uuid) };
}

/**
 * A scan's domains with the saved definitions the last inventory had, kept for a domain that runs the definition it
 * ran then and whose scan did not read its saved one: every domain of a whole scan that reads none (the one-exec
 * path: one more dumpxml per running domain), or one whose read failed (savedDefinitionUnread). Without this the
 * scan would take back what a `Defined` event showed. Once the domain stops, its scan reads that definition itself.
 */
export function keepSavedDefinitions(last: Inventory | undefined, domains: DomainInfo[], readNone: boolean): DomainInfo[] {
  const saved = new Map(last?.domains.filter((d) => d.savedDefinitionHash).map((d) => [d.uuid, d]));
  if (!saved.size) return domains;
  return domains.map((d) => {
    const before = saved.get(d.uuid);
    const unread = readNone || d.savedDefinitionUnread;
    if (!before || !unread || d.savedDefinitionHash || !isRunningOrPaused(d.state) || d.definitionHash !== before.definitionHash) return d;
    return { ...d, savedDefinitionHash: before.savedDefinitionHash };
  });
}

/** the event fields of a host's status: its stream's, or why it has none */
export function eventStatus(driver: HostDriver, stats: EventStreamStats | undefined, pollIntervalMs: number): Partial<HostStatus> {
  if (stats) {
    return {
      events: stats.up ? 'on' : 'off',
      eventsNote: stats.up ? undefined : stats.lastError,
      eventsReceived: stats.received,
      lastEventAt: stats.lastEventAt,
      lastEvent: stats.lastEvent,
      streamRestarts: stats.restarts,
      pollIntervalMs,
    };
  }
  if (driver.eventsUnavailable) return { events: 'unavailable', eventsNote: driver.eventsUnavailable, pollIntervalMs };
  return {};
}
