import { migrationUriOf, type Config } from '../model/config.js';
import { MIGRATABLE_STATES } from '../model/domain-states.js';
import { errorLine } from '../model/errors.js';
import type { DomainInfo, NodeInfo, VmRow } from '../model/types.js';
import type { StoreApi } from '../store/api.js';
import type { MigrationEngineHooks, MigrationHosts } from './hooks.js';
import type { PrecheckFacts } from './prechecks.js';

/** a request's read of the domain on the source, reused by an authorization that follows within FRESH_MS */
export interface DomainRead {
  at: number;
  domain?: DomainInfo;
  domainError?: string;
}
export const FRESH_MS = 30_000;

/** the hosts where the VM runs, as the migration stage machine counts it (MIGRATABLE_STATES) */
export function runningOn(row: Readonly<VmRow>): string[] {
  return [...new Set(row.instances.filter((i) => MIGRATABLE_STATES.has(i.state)).map((i) => i.host))];
}

export function runsOn(row: Readonly<VmRow>, host: string): boolean {
  return row.instances.some((i) => i.host === host && MIGRATABLE_STATES.has(i.state));
}

/** Where the pre-checks' facts come from. */
export interface FactSources {
  store: StoreApi;
  engine: MigrationEngineHooks;
  hosts: MigrationHosts;
  /** the policy in force (read at each gathering) */
  policy: Pick<Config['migration'], 'transport'>;
  /** whether a job between these hosts would run on the simulated executor */
  isSimulated(source: string, destination: string): boolean;
}

/**
 * The facts the pre-checks judge a move of `row` to `destination` by: the registration, open findings, where the
 * VM runs, both hosts' status and node info, and the domain as the source reports it now (`cached`: the source's
 * report from moments ago, when authorize follows a request).
 */
export async function gatherFacts(from: FactSources, row: VmRow, destination: string, cached?: DomainRead): Promise<PrecheckFacts> {
  const running = runningOn(row);
  const source = running.length === 1 ? running[0] : undefined;
  const destCfg = from.hosts.configs().find((c) => c.name === destination);
  const read = cached ?? (source ? await readDomain(from.hosts, source, row.uuid) : {});
  const [sourceNode, destinationNode] = await Promise.all([
    nodeOf(from.hosts, source),
    destCfg && destination !== source ? nodeOf(from.hosts, destination) : undefined,
  ]);
  return {
    row,
    registration: from.store.registration(row.uuid),
    criticalFindings: from.engine.openCriticalFindings(row.uuid),
    runningOn: running,
    destination,
    destinationConfigured: !!destCfg,
    destinationStatus: destCfg ? from.hosts.status(destination) : undefined,
    sourceNode,
    destinationNode,
    domain: read.domain,
    domainError: read.domainError,
    transport: from.policy.transport,
    destUri: destCfg ? migrationUriOf(destCfg) : undefined,
    simulated: !!source && !!destCfg && from.isSimulated(source, destination),
  };
}

/** the domain as `host` lists it now, or why not */
async function readDomain(hosts: MigrationHosts, host: string, uuid: string): Promise<Omit<DomainRead, 'at'>> {
  try {
    const domain = (await hosts.driver(host).inventory()).find((x) => x.uuid === uuid);
    return domain ? { domain } : { domainError: `${host} no longer lists it` };
  } catch (e) {
    return { domainError: errorLine(e) };
  }
}

/** the node info of the host's last scan, or asked now when the host is up; undefined when neither works */
async function nodeOf(hosts: MigrationHosts, host: string | undefined): Promise<NodeInfo | undefined> {
  if (!host) return undefined;
  const st = hosts.status(host);
  if (st?.node) return st.node;
  if (!st?.up) return undefined;
  try {
    return await hosts.driver(host).nodeInfo();
  } catch {
    return undefined;
  }
}
