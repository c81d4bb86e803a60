import { z } from 'zod';
import { alertsSchema } from './alerts-config.js';

// The config contract of DESIGN.md. Every object is strict: an unknown key is an error that names it.
// Paths here are as written; cli/config-load resolves `~` and relative paths against the file's folder.

const hostPort = z
  .string()
  .regex(/^[^\s:]+:\d{1,5}$/, 'expected HOST:PORT, e.g. "127.0.0.1:7447"')
  .refine((s) => {
    const p = Number(s.slice(s.lastIndexOf(':') + 1));
    return p >= 0 && p <= 65535;
  }, 'port must be 0-65535');

const hostName = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" and "-" only');

const sshHost = z
  .object({
    name: hostName,
    driver: z.literal('ssh'),
    address: z.string().min(1),
    port: z.number().int().min(1).max(65535).default(22),
    user: z.string().min(1).default('root'),
    /** private key file; omit to use ssh-agent (SSH_AUTH_SOCK) */
    identityFile: z.string().min(1).optional(),
    /** OpenSSH known_hosts file the host key must be in (default ~/.ssh/known_hosts) */
    knownHostsFile: z.string().min(1).default('~/.ssh/known_hosts'),
    libvirtUri: z.string().min(1).default('qemu:///system'),
    migrationUri: z.string().min(1).optional(),
  })
  .strict();

const libvirtHost = z
  .object({
    name: hostName,
    driver: z.literal('libvirt'),
    uri: z.string().min(1),
    migrationUri: z.string().min(1).optional(),
  })
  .strict();

export const hostSchema = z.discriminatedUnion('driver', [sshHost, libvirtHost]);

export const configSchema = z
  .object({
    store: z
      .object({
        path: z.string().min(1).optional(),
        keyFile: z.string().min(1).optional(),
      })
      .strict()
      .default({}),
    log: z
      .object({
        path: z.string().min(1).optional(),
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      })
      .strict()
      .default({ level: 'info' }),
    beacon: z
      .object({
        listen: hostPort.default('127.0.0.1:7447'),
        intervalS: z.number().positive().max(3600).default(5),
        missedBeforeSilent: z.number().int().min(1).max(1000).default(3),
        /** accepted clock skew between agent and console, seconds */
        maxSkewS: z.number().positive().max(86400).default(120),
      })
      .strict()
      .default({ listen: '127.0.0.1:7447', intervalS: 5, missedBeforeSilent: 3, maxSkewS: 120 }),
    scan: z
      .object({
        intervalS: z.number().positive().max(86400).default(30),
        timeoutS: z.number().positive().max(600).default(15),
        concurrency: z.number().int().min(1).max(256).default(8),
      })
      .strict()
      .default({ intervalS: 30, timeoutS: 15, concurrency: 8 }),
    hosts: z.array(hostSchema).default([]),
    alerts: alertsSchema,
    migration: z
      .object({
        bandwidthMiBs: z.number().positive().optional(),
        maxDowntimeMs: z.number().int().positive().optional(),
        transport: z.enum(['tls', 'tunnelled', 'direct']).default('tunnelled'),
        /** two-person rule: the authorizer must differ from the requester */
        requireDifferentAuthorizer: z.boolean().default(false),
      })
      .strict()
      .default({ transport: 'tunnelled', requireDifferentAuthorizer: false }),
    policy: z
      .object({
        enforcement: z.enum(['ask', 'isolate', 'stop']).default('ask'),
      })
      .strict()
      .default({ enforcement: 'ask' }),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const seen = new Set<string>();
    cfg.hosts.forEach((h, i) => {
      if (seen.has(h.name)) {
        ctx.addIssue({ code: 'custom', path: ['hosts', i, 'name'], message: `duplicate host name "${h.name}"` });
      }
      seen.add(h.name);
    });
  });

export type Config = z.infer<typeof configSchema>;
export type HostConfig = z.infer<typeof hostSchema>;
export type SshHostConfig = z.infer<typeof sshHost>;
export type LibvirtHostConfig = z.infer<typeof libvirtHost>;

/** A loaded config plus where things live (all paths absolute). */
export interface ResolvedConfig extends Config {
  /** the config file, or undefined when none exists (empty lab) */
  file?: string;
  storePath: string;
  logPath: string;
}

/** The libvirt URI by which other hosts reach `h` as a migration destination. */
export function migrationUriOf(h: HostConfig): string {
  if (h.migrationUri) return h.migrationUri;
  if (h.driver === 'ssh') return `qemu+ssh://${h.user}@${h.address}:${h.port}/system`;
  return h.uri;
}
