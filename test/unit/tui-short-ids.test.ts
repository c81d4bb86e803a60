// The UUID column shows each VM's shortest unique UUID prefix among the view's rows. The short forms are worked out
// again only when the view's UUIDs change; rows that are new objects for the same VMs (a beacon each) reuse them.
// These check that the column still follows the UUIDs: a newcomer that shares a prefix lengthens both, and its
// leaving shortens them again, also for a row object whose cells were already formatted.
import { expect, it } from 'vitest';
import type { VmRow } from '../../src/model/types.js';
import type { TuiData } from '../../src/tui/store.js';
import { formatted, VIEWS } from '../../src/tui/views.js';

const A = 'aaaaaaaa-1111-4000-8000-000000000001';
const A2 = 'aaaaaaaa-1122-4000-8000-000000000002'; // shares "aaaaaaaa-11" with A
const B = 'bbbbbbbb-1111-4000-8000-000000000003';

const row = (uuid: string, seq = 1): VmRow =>
  Object.freeze({
    uuid,
    name: `vm-${uuid.slice(0, 4)}-${seq}`,
    instances: [],
    lastBeacon: undefined,
    previousBoot: undefined,
    registration: 'approved',
    os: 'linux',
    ips: [],
    openFindings: 0,
    worstSeverity: undefined,
    status: 'ok',
  }) as VmRow;

const view = VIEWS.billboard;
const uuidCol = view.columns.findIndex((c) => c.title === 'UUID');
const data = (rows: VmRow[]) => ({ snapshot: { rows } }) as unknown as TuiData;
/** the UUID cells of the rows as the view shows them, after the view has seen this rows array */
const cells = (rows: VmRow[]) => {
  const items = view.items(data(rows)) as VmRow[];
  return items.map((r) => formatted(view, r).cells[uuidCol]);
};

it('a newcomer sharing a prefix lengthens both short forms, and its leaving shortens them again', () => {
  const a = row(A);
  const b = row(B);
  expect(cells([a, b])).toEqual(['aaaaaaaa', 'bbbbbbbb']);
  // a beacon for each VM: new row objects, the same UUIDs
  const a1 = row(A, 2);
  const b1 = row(B, 2);
  expect(cells([a1, b1])).toEqual(['aaaaaaaa', 'bbbbbbbb']);
  // a VM arrives whose UUID starts as A's: a1 was formatted with the short form and must not keep it
  const c = row(A2);
  expect(cells([a1, b1, c])).toEqual(['aaaaaaaa-111', 'bbbbbbbb', 'aaaaaaaa-112']);
  const a2 = row(A, 3);
  expect(cells([a2, b1, c])).toEqual(['aaaaaaaa-111', 'bbbbbbbb', 'aaaaaaaa-112']);
  // it leaves again
  expect(cells([a2, b1])).toEqual(['aaaaaaaa', 'bbbbbbbb']);
});
