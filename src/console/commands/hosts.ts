import { BillboardError, errorLine } from '../../model/errors.js';
import { hookCell } from '../../model/hook-summary.js';
import type { HostStatus } from '../../model/types.js';
import { host, VM } from '../grammar.js';
import { command, type Handler } from '../context.js';
import type { ConsoleContext } from '../context.js';
import { age, table } from '../format.js';
import { needScanner, str } from './util.js';

export const hosts = command({
  name: 'hosts',
  args: [],
  flags: {},
  mutating: false,
  summary: 'lab hosts: up/down, last scan, domains, free memory, domain events, the poll in force, and each admission hook',
  examples: ['hosts'],
  run: async (_cmd, ctx) => {
    const list = needScanner(ctx).statuses();
    const now = ctx.now();
    const text = list.length
      ? table(
          [
            'HOST',
            'DRIVER',
            'TARGET',
            'STATE',
            'DOMAINS',
            'RUNNING',
            'FREE MEM',
            'LAST SCAN',
            'EVENTS',
            'RCVD',
            'LAST EVENT',
            'RESTARTS',
            'POLL',
            'HOOK',
            'ERROR',
          ],
          list.map((h) => [
            h.name,
            h.driver,
            h.target,
            h.unknown ? 'unknown' : h.up ? 'up' : 'down',
            h.domains,
            h.running,
            h.node ? `${Math.round(h.node.freeMemoryKiB / 1024)} MiB${h.node.freeMemoryNote ? ` (${h.node.freeMemoryNote})` : ''}` : '-',
            h.lastScanAt ? `${age(h.lastScanAt, now)} ago` : '-',
            h.events === 'unavailable' ? 'polled only' : (h.events ?? '-'),
            h.eventsReceived ?? '-',
            h.lastEventAt ? `${age(h.lastEventAt, now)} ago` : '-',
            h.streamRestarts ?? '-',
            h.pollIntervalMs ? `${Math.round(h.pollIntervalMs / 1000)} s` : '-',
            hookCell(h.admissionHook),
            h.lastError ?? '',
          ]),
        ) +
        eventNotes(list) +
        hookNotes(list)
      : 'no hosts configured (add hosts[] to the config)';
    return { data: list, text };
  },
});

/** why a host has no event stream, or why its stream is down, one line each under the table */
function eventNotes(list: readonly HostStatus[]): string {
  const notes = list.filter((h) => h.eventsNote && h.events !== 'on').map((h) => `${h.name}: events ${h.events}: ${h.eventsNote}`);
  return notes.length ? `\n${notes.join('\n')}` : '';
}

/** a hook whose settings make it refuse every start, one line each under the table */
function hookNotes(list: readonly HostStatus[]): string {
  const notes = list.flatMap((h) => {
    const s = h.admissionHook?.state === 'present' ? h.admissionHook.settings : undefined;
    return s && 'problem' in s ? [`${h.name}: ${s.problem} (billboard hosts install-hook ${h.name} writes them)`] : [];
  });
  return notes.length ? `\n${notes.join('\n')}` : '';
}

export const scan = command({
  name: 'scan',
  args: [{ name: 'HOST', required: false, variadic: true }],
  flags: {},
  mutating: false,
  summary: 'scan hosts now (all when none named)',
  examples: ['scan', 'scan lab-a lab-b'],
  run: async (cmd, ctx) => {
    const results = await needScanner(ctx).scan(cmd.args.length ? cmd.args : undefined);
    const data = results.map((r) => ({
      host: r.host,
      ok: r.ok,
      ...(r.error ? { error: r.error } : {}),
      ...(r.inventory ? { durationMs: r.inventory.durationMs, domains: r.inventory.domains } : {}),
    }));
    const text = table(
      ['HOST', 'RESULT', 'DOMAINS', 'UUID / NAME / STATE / MACS'],
      results.flatMap((r) =>
        r.ok && r.inventory
          ? r.inventory.domains.length
            ? r.inventory.domains.map((d, i) => [
                i ? '' : r.host,
                i ? '' : 'ok',
                i ? '' : r.inventory!.domains.length,
                `${d.uuid} ${d.name} ${d.state} ${d.macs.join(',')}`,
              ])
            : [[r.host, 'ok', 0, '']]
          : [[r.host, `down: ${r.error}`, '-', '']],
      ),
    );
    const failed = results.filter((r) => !r.ok);
    if (failed.length === results.length && results.length) {
      throw new BillboardError('HOST_DOWN', failed.map((f) => `${f.host}: ${f.error}`).join('; '));
    }
    return { data, text };
  },
});

type Action = 'stop' | 'suspend' | 'isolate';

/** Resolve the target UUID: any VM the engine knows, else a registered one, else a literal UUID. */
function targetUuid(ctx: ConsoleContext, ref: string): { uuid: string; name: string } {
  if (ctx.engine) {
    try {
      const r = ctx.engine.resolveVm(ref);
      return { uuid: r.uuid, name: r.name };
    } catch (e) {
      if ((e as BillboardError).code === 'AMBIGUOUS') throw e;
    }
  }
  const reg = ctx.store.resolveRegistration(ref);
  return { uuid: reg.uuid, name: reg.name };
}

/**
 * Enforcement: the audit entry is written (durably) before anything touches the host — no log, no action —
 * and the outcome is audited after. The host is rescanned so the Billboard shows the new state.
 */
export async function enforce(ctx: ConsoleContext, action: Action, ref: string, host: string, reason?: string) {
  const scanner = needScanner(ctx);
  const vm = targetUuid(ctx, ref);
  const driver = scanner.driver(host);
  await ctx.store.audit(ctx.actor, action, vm.uuid, { name: vm.name, host, ...(reason ? { reason } : {}) });
  try {
    if (action === 'stop') await driver.stop(vm.uuid);
    else if (action === 'suspend') await driver.suspend(vm.uuid);
    else await driver.isolate(vm.uuid);
  } catch (e) {
    await ctx.store.audit(ctx.actor, `${action}-failed`, vm.uuid, { name: vm.name, host, error: errorLine(e) }).catch(() => {});
    throw notThere(ctx, e, vm, host) ?? e;
  }
  await ctx.store.audit(ctx.actor, `${action}-done`, vm.uuid, { name: vm.name, host }).catch(() => {});
  await scanner.scan([host]).catch(() => {});
  return vm;
}

/** libvirt's "Domain not found", said as what it means here: the VM is not on that host (and where it is) */
function notThere(ctx: ConsoleContext, e: unknown, vm: { uuid: string; name: string }, host: string): BillboardError | undefined {
  if (!/domain not found|no domain with matching/i.test(errorLine(e))) return undefined;
  let where = '';
  try {
    const hosts = ctx.engine?.resolveVm(vm.uuid).instances.map((i) => `${i.host} (${i.state})`) ?? [];
    where = hosts.length ? `; it is on ${hosts.join(', ')}` : '; no host reports it';
  } catch {
    /* not on the Billboard: nothing to add */
  }
  return new BillboardError('NOT_FOUND', `${vm.name} (${vm.uuid.slice(0, 8)}) is not defined on ${host}${where}`);
}

const enforcement =
  (action: Action): Handler =>
  async (cmd, ctx) => {
    const host = str(cmd.flags.host);
    if (!host) throw new BillboardError('USAGE', `${action}: --host HOST is required (the host where that instance runs)`);
    const vm = await enforce(ctx, action, cmd.args[0]!, host);
    const verb = { stop: 'stopped', suspend: 'suspended', isolate: 'isolated (every link down)' }[action];
    return { data: { vm: vm.uuid, name: vm.name, host, action }, text: `${verb} ${vm.name} on ${host}` };
  };

export const stop = command({
  name: 'stop',
  args: [VM],
  flags: { host: { ...host, required: true } },
  mutating: true,
  summary: 'destroy (hard stop) a VM on a host',
  examples: ['stop web-01 --host lab-b'],
  run: enforcement('stop'),
});
export const suspend = command({
  name: 'suspend',
  args: [VM],
  flags: { host: { ...host, required: true } },
  mutating: true,
  summary: 'pause a VM on a host',
  examples: ['suspend web-01 --host lab-b'],
  run: enforcement('suspend'),
});
export const isolate = command({
  name: 'isolate',
  args: [VM],
  flags: { host: { ...host, required: true } },
  mutating: true,
  summary: 'set every network link of a VM down on a host',
  examples: ['isolate web-01 --host lab-b'],
  run: enforcement('isolate'),
});
