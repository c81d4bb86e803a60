import { BillboardError } from '../../model/errors.js';
import type { Handler } from '../context.js';
import { helpText } from '../grammar.js';

export const help: Handler = async (cmd) => {
  const topic = cmd.args.join(' ') || undefined;
  const text = helpText(topic);
  return { data: { help: text }, text };
};

/** script only: let the engine run (beacons arrive, scans happen) for a while. */
export const wait: Handler = async (cmd, ctx) => {
  if (ctx.mode !== 'script') throw new BillboardError('USAGE', 'wait is for scripts only');
  const s = Number(cmd.args[0]);
  if (!Number.isFinite(s) || s < 0 || s > 86400) throw new BillboardError('USAGE', `wait: SECONDS must be 0-86400, got "${cmd.args[0]}"`);
  await new Promise((r) => setTimeout(r, s * 1000));
  return { data: { waitedS: s }, text: `waited ${s}s` };
};
