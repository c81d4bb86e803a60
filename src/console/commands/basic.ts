import { BillboardError } from '../../model/errors.js';
import { command } from '../context.js';
import { echo } from '../grammar.js';

/** script only: let the engine run (beacons arrive, scans happen) for a while. */
export const wait = command({
  name: 'wait',
  args: [{ name: 'SECONDS', required: true }],
  flags: {},
  mutating: false,
  scriptOnly: true,
  summary: 'pause the script while the engine keeps running (beacons, scans)',
  examples: ['wait 5'],
  run: async (cmd, ctx) => {
    if (ctx.mode !== 'script') throw new BillboardError('USAGE', 'wait is for scripts only');
    // decimal seconds only: Number() would also take "", " ", 0x1, 0b1 and 1e3
    const word = cmd.args[0]!;
    const s = /^[0-9]{1,5}(\.[0-9]{1,3})?$/.test(word) ? Number(word) : NaN;
    if (!(s >= 0 && s <= 86400)) {
      throw new BillboardError('USAGE', `wait: SECONDS is a decimal number from 0 to 86400 (e.g. 5 or 0.5), got "${echo(word)}"`);
    }
    await new Promise((r) => setTimeout(r, s * 1000));
    return { data: { waitedS: s }, text: `waited ${s}s` };
  },
});
