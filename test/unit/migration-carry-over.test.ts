// Issue 19: an authorized migration carries the approval over to the destination's definition — as long as the
// source's definition was the approved one (a definition that had drifted before the move stays drifted).
import { afterEach, describe, expect, it } from 'vitest';
import { MigrationManager } from '../../src/migration/manager.js';
import type { VmRow } from '../../src/model/types.js';
import { setup, UUID } from './migration-fakes.js';

const managers: MigrationManager[] = [];
afterEach(async () => {
  for (const m of managers.splice(0)) await m.close();
});

/** `web` on a, approved with `bound`; each host renders its definition as `defs` says */
function world(bound: string, defs: Record<string, string>) {
  const s = setup();
  s.store.regs.set(UUID, { ...s.store.regs.get(UUID)!, definitionHash: bound, homeHost: 'a' });
  const row = s.engine.row.bind(s.engine);
  s.engine.row = (): VmRow => {
    const r = row();
    return { ...r, instances: r.instances.map((i) => ({ ...i, definitionHash: defs[i.host] ?? i.definitionHash })) };
  };
  const m = new MigrationManager({
    store: s.store,
    engine: s.engine,
    hosts: s.hosts,
    migration: { transport: 'tunnelled', requireDifferentAuthorizer: false },
    sampleIntervalMs: 20,
    verifyTimeoutMs: 500,
    activationTimeoutMs: 500,
  });
  managers.push(m);
  return { s, m };
}

async function migrateToB(m: MigrationManager) {
  const req = await m.request('web', 'b', {}, 'alice');
  await m.authorize(req.id, 'bob');
  return m.watch(req.id, () => {});
}

describe('the approval after an authorized migration', () => {
  it("binds the destination's definition when the source had the approved one", async () => {
    const { s, m } = world('def-a', { a: 'def-a', b: 'def-b' });
    expect((await migrateToB(m)).state).toBe('completed');
    expect(s.store.regs.get(UUID)).toMatchObject({ homeHost: 'b', definitionHash: 'def-b' });
    expect(s.store.log.find((e) => e.action === 'migrate-home')?.details).toMatchObject({ homeHost: 'b', definitionHash: 'def-b' });
  });

  it('keeps the bound definition when the source had drifted from it (no laundering by migration)', async () => {
    const { s, m } = world('def-0', { a: 'def-a', b: 'def-b' });
    expect((await migrateToB(m)).state).toBe('completed');
    expect(s.store.regs.get(UUID)).toMatchObject({ homeHost: 'b', definitionHash: 'def-0' });
  });
});
