import { safeText } from '../../model/text.js';
import { command } from '../context.js';
import { age, table } from '../format.js';
import { needAlerts } from './alerts.js';

/** `health`: the store writable, the listeners up, and every sink's counters. */
export const health = command({
  name: 'health',
  args: [],
  flags: {},
  mutating: false,
  summary: "the session's health: store writable, listeners up, each alert sink's counters",
  examples: ['health'],
  run: async (_cmd, ctx) => {
    const h = needAlerts(ctx).health();
    const now = ctx.now();
    const when = (at?: number): string => (at ? `${age(at, now)} ago` : '-');
    const lines = [
      h.ok ? 'healthy' : `UNHEALTHY: ${h.problems.join('; ')}`,
      `store ${h.store.path}: ${h.store.writable ? 'writable' : `NOT writable (${h.store.reason})`}` +
        (h.store.lastWriteMs !== undefined ? `, last write ${h.store.lastWriteMs} ms` : '') +
        `, ${h.store.failedWrites} failed writes`,
      ...h.listeners.map((l) => `${l.name} listener: ${l.up ? 'up' : 'DOWN'} (${l.detail})`),
    ];
    const sinks = h.sinks.length
      ? table(
          [
            'SINK',
            'KIND',
            'TARGET',
            'EVENTS',
            'AGGREGATED',
            'DELIVERED',
            'RETRIED',
            'FAILED',
            'DROPPED',
            'QUEUED',
            'LAST OK',
            'LAST ERROR',
          ],
          h.sinks.map((s) => [
            s.name,
            s.kind,
            s.target,
            s.events,
            s.aggregated,
            s.delivered,
            s.retried,
            s.failed,
            s.dropped,
            s.queued,
            when(s.lastDeliveredAt),
            s.lastError ? `${safeText(s.lastError, 80)} (${when(s.lastFailedAt)})` : '',
          ]),
        )
      : 'no alert sinks configured (alerts[] in the config)';
    return { data: h, text: `${lines.join('\n')}\n${sinks}` };
  },
});
