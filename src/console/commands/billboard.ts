import { BillboardError } from '../../model/errors.js';
import { SEVERITY_ORDER, type Finding, type VmRow } from '../../model/types.js';
import { note, VM } from '../grammar.js';
import { command } from '../context.js';
import { age, kv, table, when } from '../format.js';
import { needEngine, str } from './util.js';

/** FILTER: a regex matched against the row's visible text; a leading ! inverts. */
export function rowFilter(filter: string | undefined): (text: string) => boolean {
  if (!filter) return () => true;
  const invert = filter.startsWith('!');
  let re: RegExp;
  try {
    re = new RegExp(invert ? filter.slice(1) : filter, 'i');
  } catch (e) {
    throw new BillboardError('USAGE', `bad filter: ${(e as Error).message}`);
  }
  return (t) => re.test(t) !== invert;
}

export function vmLine(r: VmRow): string[] {
  return [
    r.name,
    r.uuid.slice(0, 8),
    r.instances.map((i) => `${i.host}:${i.state}`).join(',') || '-',
    r.ips.join(',') || '-',
    r.os ?? '-',
    r.registration ?? 'none',
    r.status,
  ];
}

export const vms = command({
  name: 'vms',
  args: [{ name: 'FILTER', required: false }],
  flags: {},
  mutating: false,
  summary:
    'the Billboard: every VM with hosts, state, registration, last beacon and findings (FILTER: regex on any column; !REGEX inverts)',
  examples: ['vms', 'vms web', 'vms !ok'],
  run: async (cmd, ctx) => {
    const engine = needEngine(ctx);
    const keep = rowFilter(cmd.args[0]);
    const rows = engine.snapshot().rows.filter((r) => keep(vmLine(r).join(' ') + ' ' + r.uuid));
    const now = ctx.now();
    const text = rows.length
      ? table(
          ['NAME', 'UUID', 'HOSTS', 'IPS', 'OS', 'REG', 'STATUS', 'BEACON', 'FINDINGS'],
          rows.map((r) => [...vmLine(r), age(r.lastBeacon?.at, now), r.openFindings ? `${r.openFindings} (${r.worstSeverity})` : '-']),
        )
      : 'no VMs';
    return { data: rows, text };
  },
});

export const show = command({
  name: 'show',
  args: [VM],
  flags: {},
  mutating: false,
  summary: 'one VM in full: instances, registration, last beacon, findings',
  examples: ['show web-01', 'show 1111'],
  run: async (cmd, ctx) => {
    const engine = needEngine(ctx);
    const row = engine.resolveVm(cmd.args[0]!);
    const reg = ctx.store.registration(row.uuid);
    const findings = engine.findings(false).filter((f) => f.vm === row.uuid);
    const now = ctx.now();
    const text = [
      kv([
        ['name', row.name],
        ['uuid', row.uuid],
        ['status', row.status],
        ['registration', reg ? `${reg.state}${reg.decidedBy ? ` by ${reg.decidedBy} ${when(reg.decidedAt)}` : ''}` : 'none'],
        ['key', reg?.keyFp ?? '-'],
        ['home host', reg?.homeHost],
        ['os', row.os],
        ['ips', row.ips.join(', ')],
        [
          'last beacon',
          row.lastBeacon
            ? `${age(row.lastBeacon.at, now)} ago from ${row.lastBeacon.from} ` +
              `(boot ${row.lastBeacon.bootId.slice(0, 8)}, seq ${row.lastBeacon.seq})`
            : 'never',
        ],
      ]),
      '',
      row.instances.length
        ? table(
            ['HOST', 'STATE', 'NAME', 'MACS', 'MEMORY'],
            row.instances.map((i) => [i.host, i.state, i.name, i.macs.join(','), `${Math.round(i.memoryKiB / 1024)} MiB`]),
          )
        : 'not seen on any host',
      '',
      findings.length ? findingsTable(findings, now) : 'no open findings',
    ].join('\n');
    return { data: { ...row, registrationDetail: reg ?? null, findings }, text };
  },
});

export function findingsTable(fs: readonly Finding[], now: number): string {
  return table(
    ['ID', 'SEVERITY', 'CODE', 'VM', 'HOSTS', 'STATE', 'AGE', 'EVIDENCE'],
    fs.map((f) => [
      f.id,
      f.severity,
      f.code,
      f.vmName ?? (f.vm.slice(0, 8) || '-'),
      f.hosts.join(',') || '-',
      f.state,
      age(f.firstSeen, now),
      f.evidence,
    ]),
  );
}

export const findings = command({
  name: 'findings',
  args: [],
  flags: { all: { type: 'boolean', desc: 'include resolved findings' } },
  mutating: false,
  summary: 'open and acknowledged findings, worst first',
  examples: ['findings', 'findings --all'],
  run: async (cmd, ctx) => {
    const engine = needEngine(ctx);
    const list = [...engine.findings(cmd.flags.all === true)].sort(
      (a, b) => SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity] || b.lastSeen - a.lastSeen,
    );
    return { data: list, text: list.length ? findingsTable(list, ctx.now()) : 'no findings' };
  },
});

export const ack = command({
  name: 'ack',
  args: [{ name: 'FINDING', required: true }],
  flags: { note },
  mutating: true,
  summary: 'acknowledge a finding (it stays visible until its cause clears)',
  examples: ['ack F-3 --note "known clone, ticket 42"'],
  run: async (cmd, ctx) => {
    const f = await needEngine(ctx).ack(cmd.args[0]!, ctx.actor, str(cmd.flags.note));
    return { data: f, text: `acknowledged ${f.id} (${f.code})` };
  },
});
