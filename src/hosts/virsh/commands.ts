import type { MigrateOptions, NodeInfo } from '../../model/types.js';
import { hostError } from '../errors.js';

// virsh argument lists shared by both drivers (the SSH driver runs them remotely, the libvirt driver
// runs the local virsh for what the binding lacks). Pure.

/** POSIX sh single-quoting. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** One `virsh -q -c URI ARGS…` as a sh command line (C locale: the parsers read virsh's English). */
export function virshCommandLine(virsh: string, uri: string, args: string[]): string {
  return `LC_ALL=C ${shQuote(virsh)} -q -c ${shQuote(uri)} ${args.map(shQuote).join(' ')}`;
}

/** `virsh migrate …` arguments (after `-c URI`). */
export function migrateArgs(uuid: string, o: MigrateOptions): string[] {
  const a = ['migrate', '--live'];
  if (o.persistent !== false) a.push('--persistent');
  if (o.undefineSource !== false) a.push('--undefinesource');
  if (o.transport === 'tunnelled') a.push('--p2p', '--tunnelled');
  else if (o.transport === 'tls') a.push('--tls');
  if (o.bandwidthMiBs !== undefined) a.push('--bandwidth', String(Math.max(1, Math.round(o.bandwidthMiBs))));
  a.push(uuid, o.destUri);
  return a;
}

export const jobInfoArgs = (uuid: string, completed: boolean): string[] =>
  completed ? ['domjobinfo', uuid, '--completed'] : ['domjobinfo', uuid];
export const abortJobArgs = (uuid: string): string[] => ['domjobabort', uuid];
export const maxDowntimeArgs = (uuid: string, ms: number): string[] => ['migrate-setmaxdowntime', uuid, String(Math.round(ms))];
export const setSpeedArgs = (uuid: string, mibs: number): string[] => ['migrate-setspeed', uuid, String(Math.max(1, Math.round(mibs)))];
export const setLinkDownArgs = (uuid: string, mac: string): string[] => ['domif-setlink', uuid, mac, 'down'];

/** The libvirt test driver (test:///…) keeps state in memory and cannot set link state or migrate. */
export function isTestUri(uri: string): boolean {
  return /^test(\+[a-z]+)?:\/\//i.test(uri);
}

/** Why a host on `uri` has no event stream (it is then polled only), or undefined when it can have one. */
export function eventsUnavailableFor(uri: string): string | undefined {
  return isTestUri(uri) ? 'test:/// driver: its events never leave the process, polled only' : undefined;
}

/** A single virsh argument carrying several commands, separated by ";" (virsh runs them in one process). */
export function multiCommand(cmds: string[][]): string {
  return cmds.map((c) => c.join(' ')).join(' ; ');
}

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

/**
 * The domain UUID every per-domain call takes, lower-cased; anything else is NOT_FOUND before it reaches a host
 * (it goes on virsh command lines and into the binding, so only the UUID form passes).
 */
export function domainUuid(host: string, uuid: string): string {
  if (!UUID_RE.test(uuid)) throw hostError('NOT_FOUND', host, `not a domain UUID: ${JSON.stringify(uuid).slice(0, 60)}`);
  return uuid.toLowerCase();
}

/**
 * libvirt's test driver tells no free memory (freecell says 0): for its hosts the free figure is the host's size,
 * noted, so the Hosts view and the migration pre-check show one figure and say where it comes from.
 */
export function testDriverFreeMemory(node: NodeInfo, uri: string): NodeInfo {
  if (!isTestUri(uri) || node.freeMemoryKiB > 0) return node;
  return { ...node, freeMemoryKiB: node.memoryKiB, freeMemoryNote: 'test driver: no free-memory figure, its total' };
}
