import type { StoreApi } from '../store/api.js';

/**
 * The store as the engine and migrations of a read-only session see it. The store itself is opened read-only
 * (no writer lock; every mutating call rejects with READ_ONLY); on top of that, the derived state the engine keeps
 * saving (findings, jobs, replay marks) stays in this session's memory instead of failing on every save, and an
 * automatic registration request stays pending for the session's life: nothing is written, and the engine does not
 * ask again for that identity.
 */
export function readOnlyView(store: StoreApi): StoreApi {
  const kept = async () => {};
  const neverWritten = () => new Promise<never>(() => {});
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'saveFindings' || prop === 'saveJob' || prop === 'saveBeaconMarks') return kept;
      if (prop === 'register') return neverWritten;
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
