// Types for agent-console.mjs.
import type { Lab, LabHost } from './lab.mjs';
import type { Runtime } from '../../src/console/runtime.js';
import type { Finding } from '../../src/model/types.js';

export declare const AGENT_INTERVAL_S: number;

export interface SeenBeacon {
  at: number;
  verdict: string;
  bootId: string;
  seq: number;
  from: string;
}

export interface AgentConsole {
  lab: Lab & { uuid: string; agent: { publicKey: string; disk: string } };
  dir: string;
  port: number;
  /** every beacon the listener judged for the guest's UUID, in arrival order */
  beacons: SeenBeacon[];
  rt: Runtime;
  start(policy?: string): Promise<void>;
  restart(policy: string): Promise<void>;
  run(line: string): Promise<unknown>;
  findings(): Finding[];
  until<T>(probe: () => T | undefined | false, ms: number, what: string): Promise<T>;
  approveGuest(): Promise<void>;
  defineClone(host: LabHost): Promise<string>;
  stop(): Promise<void>;
}

export declare function startAgentConsole(opts?: {
  enforcement?: 'ask' | 'stop' | 'isolate';
  scanIntervalS?: number;
  quietLog?: boolean;
}): Promise<AgentConsole>;

export declare function longestGap(
  beacons: SeenBeacon[],
  from: number,
  to: number,
): { ms: number; before?: SeenBeacon; after?: SeenBeacon };
