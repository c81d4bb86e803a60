import { BillboardError } from '../../model/errors.js';
import type { MigrationJob } from '../../model/types.js';
import type { Handler } from '../context.js';
import { age, table } from '../format.js';
import { needMigrations, num, str } from './util.js';

function jobLine(j: MigrationJob, now: number) {
  return [j.id, j.vmName, `${j.source} → ${j.destination}`, j.state, j.simulated ? 'simulated' : 'libvirt', j.requestedBy, j.authorizedBy ?? '-', age(j.requestedAt, now)];
}

function jobText(j: MigrationJob): string {
  const failed = j.checks.filter((c) => !c.ok);
  return `${j.id} ${j.vmName} ${j.source} → ${j.destination}: ${j.state}${failed.length ? ` (refused: ${failed.map((c) => `${c.name}: ${c.detail}`).join('; ')})` : ''}${j.simulated ? ' [simulated]' : ''}`;
}

export const migrate: Handler = async (cmd, ctx) => {
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
};

export const authorize: Handler = async (cmd, ctx) => {
  const job = await needMigrations(ctx).authorize(cmd.args[0]!, ctx.actor);
  return { data: job, text: `authorized ${jobText(job)} — \`watch ${job.id}\` follows it` };
};

export const deny: Handler = async (cmd, ctx) => {
  const job = await needMigrations(ctx).deny(cmd.args[0]!, ctx.actor, str(cmd.flags.reason));
  return { data: job, text: `denied ${jobText(job)}` };
};

export const abort: Handler = async (cmd, ctx) => {
  const job = await needMigrations(ctx).abort(cmd.args[0]!, ctx.actor);
  return { data: job, text: `abort requested: ${jobText(job)}` };
};

export const jobs: Handler = async (_cmd, ctx) => {
  const list = needMigrations(ctx).jobs();
  const now = ctx.now();
  return {
    data: list,
    text: list.length
      ? table(['JOB', 'VM', 'ROUTE', 'STATE', 'MODE', 'REQUESTED BY', 'AUTHORIZED BY', 'AGE'], list.map((j) => jobLine(j, now)))
      : 'no migration jobs',
  };
};

export const watch: Handler = async (cmd, ctx, emit) => {
  const m = needMigrations(ctx);
  const job = await m.watch(cmd.args[0]!, (ev) => emit(ev));
  return { data: job, text: jobText(job) };
};

export const tune: Handler = async (cmd, ctx) => {
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
};
