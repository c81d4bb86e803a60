import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { ZodError } from 'zod';
import { BillboardError } from '../model/errors.js';
import { checkMigrationParams } from '../migration/limits.js';
import { configSchema, type Config, type ResolvedConfig } from '../model/config.js';

/** XDG locations of DESIGN.md. */
export function xdgPaths(env: NodeJS.ProcessEnv = process.env) {
  const home = env.HOME || homedir();
  const config = env.XDG_CONFIG_HOME || join(home, '.config');
  const data = env.XDG_DATA_HOME || join(home, '.local', 'share');
  const state = env.XDG_STATE_HOME || join(home, '.local', 'state');
  return {
    config: join(config, 'billboard', 'config.json'),
    store: join(data, 'billboard', 'store.db'),
    log: join(state, 'billboard', 'billboard.log'),
    hostKey: join(data, 'billboard', 'ssh_host_ed25519_key'),
  };
}

export function expandPath(p: string, base: string, env: NodeJS.ProcessEnv = process.env): string {
  const home = env.HOME || homedir();
  if (p === '~') return home;
  if (p.startsWith('~/')) return join(home, p.slice(2));
  return isAbsolute(p) ? p : resolve(base, p);
}

function describeZod(err: ZodError, file: string): string {
  // a misspelt key also makes the real key "missing": name the misspelling, it is the actual mistake
  const issue = err.issues.find((i) => i.code === 'unrecognized_keys') ?? err.issues[0]!;
  const path = issue.path.length
    ? issue.path
        .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
        .join('')
        .replace(/^\./, '')
    : '(top level)';
  let msg = issue.message;
  if (issue.code === 'unrecognized_keys') {
    const keys = (issue as { keys?: string[] }).keys ?? [];
    return `${file}: unknown field ${keys.map((k) => `"${path === '(top level)' ? k : `${path}.${k}`}"`).join(', ')}`;
  }
  if (issue.code === 'invalid_union' && /discriminator/i.test(msg)) msg = 'driver must be "ssh" or "libvirt"';
  return `${file}: ${path}: ${msg}`;
}

/** Keys starting with "//" are comments (JSON has none); they are dropped before validation. */
function stripComments(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripComments);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.entries(v)
        .filter(([k]) => !k.startsWith('//'))
        .map(([k, x]) => [k, stripComments(x)]),
    );
  }
  return v;
}

/**
 * Load, validate and resolve the config. With no --config and no file at the default place, the lab is
 * empty (no hosts) — not an error. Everything else wrong is one line naming the field and the file.
 */
export function loadConfig(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): ResolvedConfig {
  const xdg = xdgPaths(env);
  const file = explicit ? resolve(explicit) : xdg.config;
  let raw: unknown = {};
  let found = true;
  let text: string | undefined;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !explicit) found = false;
    else if (code === 'ENOENT') throw new BillboardError('CONFIG', `config file ${file} does not exist`);
    else throw new BillboardError('CONFIG', `cannot read config file ${file}: ${(e as Error).message}`);
  }
  if (text !== undefined) {
    try {
      raw = JSON.parse(text);
    } catch (e) {
      throw new BillboardError('CONFIG', `${file}: not valid JSON (${(e as Error).message})`);
    }
  }
  const parsed = configSchema.safeParse(stripComments(raw));
  if (!parsed.success) throw new BillboardError('CONFIG', describeZod(parsed.error, file));
  try {
    // the defaults every migration starts with: whole numbers within the hypervisor's limits, as `tune` takes
    checkMigrationParams(parsed.data.migration);
  } catch (e) {
    throw new BillboardError('CONFIG', `${file}: migration: ${(e as Error).message}`);
  }
  return resolveConfig(parsed.data, found ? file : undefined, env);
}

export function resolveConfig(cfg: Config, file: string | undefined, env: NodeJS.ProcessEnv = process.env): ResolvedConfig {
  const xdg = xdgPaths(env);
  const base = file ? dirname(file) : process.cwd();
  const p = (s: string) => expandPath(s, base, env);
  const hosts = cfg.hosts.map((h) =>
    h.driver === 'ssh'
      ? {
          ...h,
          knownHostsFile: p(h.knownHostsFile),
          ...(h.identityFile ? { identityFile: p(h.identityFile) } : {}),
        }
      : h.uri.startsWith('test://') && h.uri !== 'test:///default'
        ? { ...h, uri: `test://${p(h.uri.slice('test://'.length))}` }
        : h,
  );
  return {
    ...cfg,
    hosts,
    store: {
      ...(cfg.store.path ? { path: p(cfg.store.path) } : {}),
      ...(cfg.store.keyFile ? { keyFile: p(cfg.store.keyFile) } : {}),
    },
    client: {
      ...(cfg.client.connect ? { connect: cfg.client.connect } : {}),
      ...(cfg.client.identityFile ? { identityFile: p(cfg.client.identityFile) } : {}),
      ...(cfg.client.knownHostsFile ? { knownHostsFile: p(cfg.client.knownHostsFile) } : {}),
    },
    ...(file ? { file } : {}),
    hostKeyPath: cfg.serve.hostKeyFile ? p(cfg.serve.hostKeyFile) : xdg.hostKey,
    storePath: cfg.store.path ? p(cfg.store.path) : xdg.store,
    logPath: cfg.log.path ? p(cfg.log.path) : xdg.log,
  };
}
