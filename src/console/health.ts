import { EventEmitter } from 'node:events';
import { accessSync, constants } from 'node:fs';
import { dirname } from 'node:path';
import type { AlertFeed, SinkCounters, TestResult } from '../alerts/index.js';
import { errorLine } from '../model/errors.js';
import type { StoreApi } from '../store/api.js';

/** the StoreApi calls that write (each is one durable write) */
const WRITES = new Set(['register', 'decide', 'updateRegistration', 'audit', 'saveFindings', 'saveJob', 'saveBeaconMarks']);

export interface ListenerHealth {
  name: string;
  up: boolean;
  detail: string;
}

export interface HealthReport {
  ok: boolean;
  /** why not ok, one line per problem */
  problems: string[];
  store: { path: string; writable: boolean; reason?: string; lastWriteMs?: number; failedWrites: number };
  listeners: ListenerHealth[];
  sinks: SinkCounters[];
}

/** What commands (`alerts test`, `health`, `audit verify`) and the metrics may ask of the session's alerts and health. */
export interface AlertService {
  test(sink?: string): Promise<TestResult[]>;
  counters(): SinkCounters[];
  auditFailed(error: string, id: string): void;
  health(): HealthReport;
}

/**
 * Watches the session's store writes: how long each takes ('write', seconds, ok), and whether the last one failed,
 * which is half of "healthy" (the other half: the listeners are up). A failure is told to the alerts once, until a
 * write succeeds again.
 */
export class StoreWatch extends EventEmitter {
  failedWrites = 0;
  private lastError: string | undefined;
  lastWriteMs: number | undefined;

  constructor(
    private readonly readOnly: boolean,
    private readonly alerts?: Pick<AlertFeed, 'storeFailed' | 'storeRecovered'>,
  ) {
    super();
  }

  /** the store, every write timed and watched; reads untouched */
  wrap(store: StoreApi): StoreApi {
    return new Proxy(store, {
      get: (target, prop) => {
        const v = Reflect.get(target, prop) as unknown;
        if (typeof v !== 'function') return v;
        const fn = v as (...args: unknown[]) => unknown;
        if (typeof prop !== 'string' || !WRITES.has(prop)) return fn.bind(target);
        return (...args: unknown[]) => this.time(() => fn.apply(target, args) as Promise<unknown>);
      },
    });
  }

  writable(path: string): { writable: boolean; reason?: string } {
    if (this.readOnly) return { writable: false, reason: 'the store is open read-only (another process is its writer)' };
    if (this.lastError !== undefined) return { writable: false, reason: `the last store write failed: ${this.lastError}` };
    try {
      accessSync(dirname(path), constants.W_OK);
      accessSync(path, constants.W_OK);
      return { writable: true };
    } catch (e) {
      return { writable: false, reason: `the store file is not writable: ${errorLine(e)}` };
    }
  }

  private async time<T>(write: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      const r = await write();
      this.settled(t0, true);
      if (this.lastError !== undefined) {
        this.lastError = undefined;
        this.alerts?.storeRecovered();
      }
      return r;
    } catch (e) {
      this.settled(t0, false);
      const code = (e as { code?: string }).code ?? '';
      // refusals (CONFLICT, NOT_FOUND, a closed store at shutdown) are answers, not a store that cannot write
      if (code === 'STORE_WRITE' || code === 'AUDIT_FAILED') {
        this.failedWrites++;
        this.lastError = errorLine(e);
        this.alerts?.storeFailed(this.lastError);
      }
      throw e;
    }
  }

  private settled(t0: number, ok: boolean): void {
    const ms = performance.now() - t0;
    this.lastWriteMs = ms;
    this.emit('write', ms / 1000, ok);
  }
}

/** The session's health: the store writable, every listener up; and each sink's counters. */
export class SessionHealth {
  private readonly listeners = new Map<string, () => ListenerHealth>();

  constructor(
    private readonly storePath: string,
    private readonly storeWatch: StoreWatch,
    private readonly sinks: () => SinkCounters[],
  ) {}

  /** a listener whose being up is part of health (the beacon listener; the service adds its SSH endpoint) */
  addListener(name: string, probe: () => Omit<ListenerHealth, 'name'>): void {
    this.listeners.set(name, () => ({ name, ...probe() }));
  }

  report(): HealthReport {
    const w = this.storeWatch.writable(this.storePath);
    const listeners = [...this.listeners.values()].map((p) => p());
    const problems = [
      ...(w.reason ? [w.reason] : []),
      ...listeners.filter((l) => !l.up).map((l) => `${l.name} listener is down: ${l.detail}`),
    ];
    return {
      ok: problems.length === 0,
      problems,
      store: {
        path: this.storePath,
        writable: w.writable,
        ...(w.reason ? { reason: w.reason } : {}),
        ...(this.storeWatch.lastWriteMs !== undefined ? { lastWriteMs: Math.round(this.storeWatch.lastWriteMs * 10) / 10 } : {}),
        failedWrites: this.storeWatch.failedWrites,
      },
      listeners,
      sinks: this.sinks(),
    };
  }
}
