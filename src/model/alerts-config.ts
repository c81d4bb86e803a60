import { z } from 'zod';
import { FINDING_CODES } from './types.js';

// The `alerts[]` part of the config contract (DESIGN.md): sinks that tell a person when something happens.
// Every object is strict, as in config.ts; bounds keep an operator's typo from costing unbounded memory or time.

const SEVERITY = z.enum(['critical', 'high', 'medium', 'low']);

const sinkName = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" and "-" only');

/** an HTTP header name (RFC 9110 token) and a value without line breaks */
const headerName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'not an HTTP header name');
const headerValue = z
  .string()
  .max(8192)
  .regex(/^[^\r\n\0]*$/, 'header values hold no line breaks');

const httpUrl = z
  .string()
  .max(2048)
  .refine((s) => {
    try {
      const u = new URL(s);
      return u.protocol === 'http:' || u.protocol === 'https:';
    } catch {
      return false;
    }
  }, 'expected an http:// or https:// URL');

const common = {
  /** what `alerts test SINK`, `health` and the metrics call it (default: the kind, numbered when repeated) */
  name: sinkName.optional(),
  /** the least severity sent (findings; other events carry their own severity) */
  minSeverity: SEVERITY.default('high'),
  /** only findings with these codes (other events pass) */
  codes: z.array(z.enum(FINDING_CODES)).min(1).optional(),
  /** at most one message per window: what arrives meanwhile goes out as one aggregated alert when it ends */
  windowS: z.number().min(0.05).max(86400).default(30),
};

const webhook = z
  .object({
    kind: z.literal('webhook'),
    url: httpUrl,
    headers: z.record(headerName, headerValue).default({}),
    timeoutS: z.number().positive().max(120).default(5),
    retries: z.number().int().min(0).max(20).default(5),
    /** messages waiting for delivery; when full the oldest is dropped (and counted) */
    queue: z.number().int().min(1).max(10000).default(100),
    ...common,
  })
  .strict();

const exec = z
  .object({
    kind: z.literal('exec'),
    /** argv: no shell is involved */
    command: z.array(z.string().min(1).max(4096)).min(1).max(64),
    timeoutS: z.number().positive().max(600).default(10),
    concurrency: z.number().int().min(1).max(16).default(2),
    queue: z.number().int().min(1).max(10000).default(100),
    ...common,
  })
  .strict();

const syslog = z
  .object({
    kind: z.literal('syslog'),
    /** auto: stdout under systemd (JOURNAL_STREAM set), else the socket */
    transport: z.enum(['auto', 'socket', 'stdout']).default('auto'),
    /** the local syslog datagram socket */
    socket: z.string().min(1).default('/dev/log'),
    facility: z
      .enum(['user', 'daemon', 'auth', 'authpriv', 'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7'])
      .default('daemon'),
    ...common,
  })
  .strict();

export const alertSinkSchema = z.discriminatedUnion('kind', [webhook, exec, syslog]);

export const alertsSchema = z
  .array(alertSinkSchema)
  .max(32)
  .default([])
  .superRefine((sinks, ctx) => {
    const seen = new Set<string>();
    sinkNames(sinks).forEach((n, i) => {
      if (seen.has(n)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate alert sink name "${n}"` });
      seen.add(n);
    });
  });

export type AlertSinkConfig = z.infer<typeof alertSinkSchema>;
export type WebhookSinkConfig = z.infer<typeof webhook>;
export type ExecSinkConfig = z.infer<typeof exec>;
export type SyslogSinkConfig = z.infer<typeof syslog>;

/** Each sink's name: its own, else its kind, numbered (webhook-1, webhook-2) when the kind repeats. */
export function sinkNames(sinks: readonly { kind: string; name?: string }[]): string[] {
  const perKind = new Map<string, number>();
  for (const s of sinks) perKind.set(s.kind, (perKind.get(s.kind) ?? 0) + 1);
  const n = new Map<string, number>();
  return sinks.map((s) => {
    if (s.name) return s.name;
    const i = (n.get(s.kind) ?? 0) + 1;
    n.set(s.kind, i);
    return perKind.get(s.kind)! > 1 ? `${s.kind}-${i}` : s.kind;
  });
}
