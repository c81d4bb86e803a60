import { BillboardError } from '../../model/errors.js';
import type { MigrationJob } from '../../model/types.js';
import { JOB, reason, VM } from '../grammar.js';
import { MAX_BANDWIDTH_MIBS, MAX_DOWNTIME_MS } from '../../migration/limits.js';
import { command } from '../context.js';
import { age, table } from '../format.js';
import { needMigrations, num, str } from './util.js';

function jobLine(j: MigrationJob, now: number) {
  return [
    j.id,
    j.vmName,
    `${j.source} → ${j.destination}`,
    j.state,
    j.simulated ? 'simulated' : 'libvirt',
    j.requestedBy,
    j.authorizedBy ?? '-',
    age(j.requestedAt, now),
  ];
}

function jobText(j: MigrationJob): string {
  const failed = j.checks.filter((c) => !c.ok);
  const refused = failed.length ? ` (refused: ${failed.map((c) => `${c.name}: ${c.detail}`).join('; ')})` : '';
  return `${j.id} ${j.vmName} ${j.source} → ${j.destination}: ${j.state}${refused}${j.simulated ? ' [simulated]' : ''}`;
}

export const migrate = command({
  name: 'migrate',
  args: [VM],
  mutating: true,
  flags: {
    to: { type: 'string', arg: 'HOST', required: true, desc: 'destination host (required)' },
    bandwidth: { type: 'number', arg: 'MIBS', max: MAX_BANDWIDTH_MIBS, desc: 'bandwidth cap in MiB/s (whole number)' },
    'max-downtime': {
      type: 'number',
      arg: 'MS',
      max: MAX_DOWNTIME_MS,
      desc: `maximum tolerated downtime in ms (whole number, at most ${MAX_DOWNTIME_MS})`,
    },
  },
  summary: 'request a live migration; it waits for `authorize`',
  examples: ['migrate db-01 --to lab-b --bandwidth 64'],
  run: async (cmd, ctx) => {
    const to = str(cmd.flags.to);
    if (!to) throw new BillboardError('USAGE', 'migrate: --to HOST is required');
    const job = await needMigrations(ctx).request(
      cmd.args[0]!,
      to,
      {
        ...(num(cmd.flags.bandwidth) ? { bandwidthMiBs: num(cmd.flags.bandwidth) } : {}),
        ...(num(cmd.flags['max-downtime']) ? { maxDowntimeMs: num(cmd.flags['max-downtime']) } : {}),
      },
      ctx.actor,
    );
    return { data: job, text: `${jobText(job)}${job.state === 'awaiting-authorization' ? ` — run \`authorize ${job.id}\`` : ''}` };
  },
});

export const authorize = command({
  name: 'authorize',
  args: [JOB],
  flags: {},
  mutating: true,
  summary: 'authorize a requested migration and start it',
  examples: ['authorize J-1', 'authorize db-01'],
  run: async (cmd, ctx) => {
    const job = await needMigrations(ctx).authorize(cmd.args[0]!, ctx.actor);
    return { data: job, text: `authorized ${jobText(job)} — \`watch ${job.id}\` follows it` };
  },
});

export const deny = command({
  name: 'deny',
  args: [JOB],
  flags: { reason },
  mutating: true,
  summary: 'deny a requested migration',
  examples: ['deny J-1 --reason "change freeze"'],
  run: async (cmd, ctx) => {
    const job = await needMigrations(ctx).deny(cmd.args[0]!, ctx.actor, str(cmd.flags.reason));
    return { data: job, text: `denied ${jobText(job)}` };
  },
});

export const abort = command({
  name: 'abort',
  args: [JOB],
  flags: {},
  mutating: true,
  summary: 'abort a running migration (the VM stays on its source)',
  examples: ['abort J-1'],
  run: async (cmd, ctx) => {
    const job = await needMigrations(ctx).abort(cmd.args[0]!, ctx.actor);
    return { data: job, text: `abort requested: ${jobText(job)}` };
  },
});

export const jobs = command({
  name: 'jobs',
  args: [],
  flags: {},
  mutating: false,
  summary: 'migration jobs and their stages',
  examples: ['jobs'],
  run: async (_cmd, ctx) => {
    const list = needMigrations(ctx).jobs();
    const now = ctx.now();
    return {
      data: list,
      text: list.length
        ? table(
            ['JOB', 'VM', 'ROUTE', 'STATE', 'MODE', 'REQUESTED BY', 'AUTHORIZED BY', 'AGE'],
            list.map((j) => jobLine(j, now)),
          )
        : 'no migration jobs',
    };
  },
});

export const watch = command({
  name: 'watch',
  args: [JOB],
  flags: {},
  mutating: false,
  summary: 'follow a migration stage by stage until it ends',
  examples: ['watch J-1'],
  run: async (cmd, ctx, emit) => {
    const m = needMigrations(ctx);
    const job = await m.watch(cmd.args[0]!, (ev) => emit(ev));
    return { data: job, text: jobText(job) };
  },
});

export const tune = command({
  name: 'tune',
  args: [JOB],
  mutating: true,
  flags: {
    bandwidth: { type: 'number', arg: 'MIBS', max: MAX_BANDWIDTH_MIBS, desc: 'new bandwidth cap in MiB/s (whole number)' },
    'max-downtime': {
      type: 'number',
      arg: 'MS',
      max: MAX_DOWNTIME_MS,
      desc:
        `new maximum tolerated downtime in ms (whole number, at most ${MAX_DOWNTIME_MS}; ` +
        'raising it needs another operator under the two-person rule)',
    },
  },
  summary: 'change bandwidth or max downtime of a migration still in pre-copy (what the convergence estimate suggests)',
  examples: ['tune J-1 --bandwidth 128', 'tune db-01 --max-downtime 500'],
  run: async (cmd, ctx) => {
    const bandwidthMiBs = num(cmd.flags.bandwidth);
    const maxDowntimeMs = num(cmd.flags['max-downtime']);
    if (!bandwidthMiBs && !maxDowntimeMs) throw new BillboardError('USAGE', 'tune: give --bandwidth MIBS and/or --max-downtime MS');
    const job = await needMigrations(ctx).tune(
      cmd.args[0]!,
      { ...(bandwidthMiBs ? { bandwidthMiBs } : {}), ...(maxDowntimeMs ? { maxDowntimeMs } : {}) },
      ctx.actor,
    );
    return {
      data: job,
      text: `tuned ${job.id}: bandwidth ${job.bandwidthMiBs ?? 'unlimited'} MiB/s, max downtime ${job.maxDowntimeMs ?? 'default'} ms`,
    };
  },
});
