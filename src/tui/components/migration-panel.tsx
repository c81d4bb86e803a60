// The selected migration job: six-stage timeline (current stage lit), memory-remaining bar (which may move
// backwards: marked), iteration, dirty rate vs bandwidth sparklines, downtime, and the convergence estimate.
import React from 'react';
import { Box, Text } from 'ink';
import { MIGRATION_STAGES, type JobStats, type MigrationJob } from '../../model/types.js';
import { bar, bytes, fit, ms, rate, sparkline } from '../format.js';
import type { Theme } from '../theme.js';

const SHORT: Record<string, string> = {
  'pre-migration': 'pre-mig',
  reservation: 'reserve',
  'iterative-pre-copy': 'pre-copy',
  'stop-and-copy': 'stop+copy',
  commitment: 'commit',
  activation: 'activate',
};

export interface MigrationPanelProps {
  job: MigrationJob | undefined;
  history: readonly JobStats[];
  height: number;
  width: number;
  readOnly: boolean;
  theme: Theme;
}

/** is memory remaining growing (the pre-copy going backwards) between the last two samples? */
export function goingBackwards(history: readonly JobStats[]): boolean {
  const a = history[history.length - 2]?.memoryRemainingBytes;
  const b = history[history.length - 1]?.memoryRemainingBytes;
  return a !== undefined && b !== undefined && b > a;
}

function Timeline({ job, width, theme }: { job: MigrationJob; width: number; theme: Theme }) {
  const seen = new Set(job.stages.map((s) => s.stage));
  const long = width >= 110;
  const terminal = ['completed', 'failed', 'aborted', 'denied'].includes(job.state);
  return (
    <Text wrap="truncate">
      {'stages '}
      {MIGRATION_STAGES.map((s, i) => {
        const current = job.state === s;
        const done = seen.has(s) && !current;
        const name = long ? s : SHORT[s]!;
        const label = current ? `[${name}]` : `${done ? '✓' : ' '}${name}`;
        return (
          <Text key={s} {...(current ? theme.lit : done ? {} : theme.dim)}>
            {(i ? ' › ' : '') + label}
          </Text>
        );
      })}
      {terminal ? <Text {...(job.state === 'completed' ? theme.tone('green') : theme.error)}>{`  ⇒ ${job.state}`}</Text> : null}
      {job.state === 'awaiting-authorization' ? <Text {...theme.busy}>{'  ⇒ awaiting authorization'}</Text> : null}
    </Text>
  );
}

export function MigrationPanel(p: MigrationPanelProps) {
  const { job, theme } = p;
  const rule = (
    <Text wrap="truncate" {...theme.dim}>
      {'── migration '.padEnd(p.width, '─')}
    </Text>
  );
  if (!job) {
    return (
      <Box flexDirection="column" height={p.height + 1} width={p.width}>
        {rule}
        <Text {...theme.dim}>no job selected</Text>
      </Box>
    );
  }
  const st = job.lastStats;
  const total = st?.memoryTotalBytes ?? st?.dataTotalBytes;
  const remaining = st?.memoryRemainingBytes ?? st?.dataRemainingBytes;
  const frac = total && remaining !== undefined ? remaining / total : 0;
  const back = goingBackwards(p.history);
  const sparkW = Math.max(10, p.width - 14);
  const dirty = p.history.map((h) => h.dirtyRateBps ?? 0);
  const bw = p.history.map((h) => h.bandwidthBps ?? 0);
  const top = Math.max(1, ...dirty, ...bw);
  const conv = job.convergence;
  const suggestion = suggestionOf(conv);
  const barW = Math.max(10, Math.min(40, p.width - 50));
  const lines: React.ReactNode[] = [
    <Text key="t" wrap="truncate">
      <Text bold={!theme.noColor}>{`${job.id} ${job.vmName} ${job.source} → ${job.destination}  ${job.state}`}</Text>
      {job.simulated ? <Text {...theme.busy}>{'  [SIMULATED]'}</Text> : null}
    </Text>,
    <Timeline key="tl" job={job} width={p.width} theme={theme} />,
    <Text key="bar" wrap="truncate">
      {`remaining ${bar(frac, barW)} ${bytes(remaining)} of ${bytes(total)}`}
      {back ? <Text {...theme.error}>{'  ↑ going backwards'}</Text> : null}
    </Text>,
    <Text key="nums" wrap="truncate">
      {`iteration ${st?.iteration ?? '-'}  dirty ${rate(st?.dirtyRateBps)}  bandwidth ${rate(st?.bandwidthBps)}  ` +
        `expected downtime ${ms(st?.expectedDowntimeMs)}  total downtime ${ms(st?.totalDowntimeMs)}`}
    </Text>,
    <Text key="sd" wrap="truncate">
      {fit('dirty rate', 12)}
      <Text {...theme.tone('red')}>{sparkline(dirty, sparkW, top)}</Text>
    </Text>,
    <Text key="sb" wrap="truncate">
      {fit('bandwidth', 12)}
      <Text {...theme.tone('green')}>{sparkline(bw, sparkW, top)}</Text>
    </Text>,
    <Convergence key="c" conv={conv} expectedMs={st?.expectedDowntimeMs} maxMs={job.maxDowntimeMs} theme={theme} />,
  ];
  if (suggestion)
    lines.push(
      <Text key="s" wrap="truncate">
        {p.readOnly ? `suggested: ${suggestion}` : `[t] apply suggestion: ${suggestion}`}
      </Text>,
    );
  lines.push(<Outcome key="k" job={job} theme={theme} />);
  return (
    <Box flexDirection="column" height={p.height + 1} width={p.width}>
      {rule}
      {lines.slice(0, p.height)}
    </Box>
  );
}

/**
 * The convergence line. A check mark only for an estimate that rests on a measurement and agrees with the
 * numbers shown: "not measured yet" is unknown, and an expected downtime over the maximum is not converging.
 */
function Convergence(p: { conv: MigrationJob['convergence']; expectedMs?: number; maxMs?: number; theme: Theme }) {
  const { conv, theme } = p;
  if (!conv)
    return (
      <Text wrap="truncate" {...theme.dim}>
        no convergence estimate yet
      </Text>
    );
  const unknown = /not measured|measured yet|unknown/i.test(conv.advice);
  const over = p.expectedMs !== undefined && p.maxMs !== undefined && p.expectedMs > p.maxMs;
  const [mark, tone] = !conv.converges
    ? ['✗ does not converge', 'yellow' as const]
    : unknown || over
      ? [
          `? convergence unknown${over ? ` (expected downtime ${Math.round(p.expectedMs!)} ms > max ${p.maxMs} ms)` : ''}`,
          'yellow' as const,
        ]
      : ['✓ converges', 'green' as const];
  return (
    <Text wrap="truncate" {...theme.tone(tone)}>
      {`${mark}: ${conv.advice}`}
    </Text>
  );
}

/** the convergence estimate's suggestion, in words (undefined when it suggests nothing) */
function suggestionOf(conv: MigrationJob['convergence']): string | undefined {
  if (!conv || (conv.suggestedBandwidthMiBs === undefined && conv.suggestedMaxDowntimeMs === undefined)) return undefined;
  const parts = [
    conv.suggestedBandwidthMiBs !== undefined ? `bandwidth ${conv.suggestedBandwidthMiBs} MiB/s` : '',
    conv.suggestedMaxDowntimeMs !== undefined ? `max downtime ${conv.suggestedMaxDowntimeMs} ms` : '',
  ];
  return parts.filter(Boolean).join(', ');
}

/** how the job ended, or its pre-checks while it has not */
function Outcome({ job, theme }: { job: MigrationJob; theme: Theme }) {
  const bad = job.checks.filter((c) => !c.ok);
  const text =
    job.result ??
    job.error ??
    (bad.length ? `pre-checks failed: ${bad.map((c) => c.name).join(', ')}` : `pre-checks: ${job.checks.length} ok`);
  return (
    <Text wrap="truncate" {...(bad.length ? theme.error : theme.dim)}>
      {text}
    </Text>
  );
}
