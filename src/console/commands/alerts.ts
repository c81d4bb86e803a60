import { BillboardError } from '../../model/errors.js';
import { safeText } from '../../model/text.js';
import { command, type ConsoleContext } from '../context.js';
import { table } from '../format.js';
import type { AlertService } from '../health.js';

export function needAlerts(ctx: ConsoleContext): AlertService {
  if (!ctx.alerts) throw new BillboardError('NOT_AVAILABLE', 'alerts are not wired in this session');
  return ctx.alerts;
}

/** `alerts test [SINK]`: one test event to each sink (or the one named), now, and what each answered. */
export const alertsTest = command({
  name: 'alerts test',
  args: [{ name: 'SINK', required: false }],
  flags: {},
  mutating: false,
  summary: 'send a test alert to every sink (or one) and report what each answered',
  examples: ['alerts test', 'alerts test pager'],
  run: async (cmd, ctx) => {
    const alerts = needAlerts(ctx);
    if (!alerts.counters().length) {
      throw new BillboardError('NOT_AVAILABLE', 'no alert sinks: add alerts[] to the config (a read-only session sends none)');
    }
    const results = await alerts.test(cmd.args[0]);
    const text = table(
      ['SINK', 'RESULT', 'MS', 'DETAIL'],
      results.map((r) => [r.sink, r.ok ? 'ok' : 'FAILED', r.ms, safeText(r.detail)]),
    );
    const failed = results.filter((r) => !r.ok);
    if (failed.length) {
      const what = failed.map((r) => `${r.sink}: ${safeText(r.detail)}`).join('; ');
      throw new BillboardError('HOST_ERROR', `test alert not delivered (${failed.length} of ${results.length}): ${what}`, { results });
    }
    return { data: results, text };
  },
});
