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
    /** libvirt's hooks folder on the host, where the admission hook lives (default /etc/libvirt/hooks; when set, a
     *  test:/// host's hook is checked too) */
    hooksDir: z
      .string()
      .regex(/^\/[A-Za-z0-9._/-]+$/, 'an absolute path of letters, digits, ".", "_", "-" and "/"')
      .optional(),
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

/** What an operator may do (console/permissions.ts): viewer reads, operator runs the grammar but the admin-only
 *  commands, admin everything, host only asks admission (`admit`). */
export const ROLES = ['viewer', 'operator', 'admin', 'host'] as const;
export type Role = (typeof ROLES)[number];

/** one OpenSSH public key line: "TYPE BASE64 [comment]" */
const publicKeyLine = z
  .string()
  .max(16384)
  .regex(
    /^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/]+={0,3}( [^\n]*)?$/,
    'expected an OpenSSH public key line, e.g. "ssh-ed25519 AAAA… alice@laptop"',
  );

const operator = z
  .object({
    name: hostName,
    role: z.enum(ROLES),
    keys: z.array(publicKeyLine).min(1),
  })
  .strict();

const connectTarget = z
  .string()
  .regex(/^([A-Za-z0-9][A-Za-z0-9._-]*@)?[^\s@:]+(:\d{1,5})?$/, 'expected [USER@]HOST[:PORT], e.g. "alice@console:7448"');

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
        /** the safety poll while a host's events flow; the scanner never polls faster than intervalS */
        eventsIntervalS: z.number().positive().max(86400).default(300),
      })
      .strict()
      .default({ intervalS: 30, timeoutS: 15, concurrency: 8, eventsIntervalS: 300 }),
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
        /** the hosts' admission hooks (docs/admission.md): off answers yes, audit answers yes and records what enforce refuses */
        admission: z.enum(['off', 'audit', 'enforce']).default('off'),
      })
      .strict()
      .default({ enforcement: 'ask', admission: 'off' }),
    admission: z
      .object({
        /** what a host's hook does when the service does not answer within timeoutS (written into its conf) */
        unreachable: z.enum(['allow', 'deny']).default('deny'),
        /** how long a hook waits for the service, seconds (libvirt waits on the hook) */
        timeoutS: z.number().int().min(1).max(60).default(3),
        /** sha256 of hooks installed as /etc/libvirt/hooks/qemu besides contrib/billboard-admit (a chaining wrapper) */
        hookSha256: z.array(z.string().regex(/^[0-9a-f]{64}$/, 'expected a sha256 in hex')).default([]),
      })
      .strict()
      .default({ unreachable: 'deny', timeoutS: 3, hookSha256: [] }),
    serve: z
      .object({
        /** TCP HOST:PORT of the service's SSH endpoint */
        listen: hostPort.default('127.0.0.1:7448'),
        /** the service's SSH host key (default $XDG_DATA_HOME/billboard/ssh_host_ed25519_key); `init` creates it */
        hostKeyFile: z.string().min(1).optional(),
        /** Prometheus metrics endpoint: off, or HOST:PORT */
        metrics: z.union([z.literal('off'), hostPort]).default('off'),
      })
      .strict()
      .default({ listen: '127.0.0.1:7448', metrics: 'off' }),
    operators: z.array(operator).default([]),
    client: z
      .object({
        /** attach to this service by default: [USER@]HOST[:PORT] */
        connect: connectTarget.optional(),
        identityFile: z.string().min(1).optional(),
        knownHostsFile: z.string().min(1).optional(),
      })
      .strict()
      .default({}),
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
    const names = new Set<string>();
    const keys = new Map<string, string>();
    cfg.operators.forEach((o, i) => {
      if (names.has(o.name)) ctx.addIssue({ code: 'custom', path: ['operators', i, 'name'], message: `duplicate operator "${o.name}"` });
      names.add(o.name);
      o.keys.forEach((k, j) => {
        const blob = k.split(' ')[1]!;
        const other = keys.get(blob);
        if (other !== undefined && other !== o.name) {
          ctx.addIssue({
            code: 'custom',
            path: ['operators', i, 'keys', j],
            message: `this key is also ${other}'s: one key, one operator`,
          });
        }
        keys.set(blob, o.name);
      });
    });
  });

export type Config = z.infer<typeof configSchema>;
export type HostConfig = z.infer<typeof hostSchema>;
export type SshHostConfig = z.infer<typeof sshHost>;
export type LibvirtHostConfig = z.infer<typeof libvirtHost>;
export type OperatorConfig = z.infer<typeof operator>;

/** A loaded config plus where things live (all paths absolute). */
export interface ResolvedConfig extends Config {
  /** the config file, or undefined when none exists (empty lab) */
  file?: string;
  storePath: string;
  logPath: string;
  /** the service's SSH host key file (absolute; config-load always sets it) */
  hostKeyPath?: string;
}

/** The libvirt URI by which other hosts reach `h` as a migration destination. */
export function migrationUriOf(h: HostConfig): string {
  if (h.migrationUri) return h.migrationUri;
  if (h.driver === 'ssh') return `qemu+ssh://${h.user}@${h.address}:${h.port}/system`;
  return h.uri;
}
