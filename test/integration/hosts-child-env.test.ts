import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLocalVirsh } from '../../src/hosts/libvirt/local-virsh.js';

// Child processes the console starts (the local virsh, the migrate guard's sh and what it runs) never inherit
// the store passphrase or any other BILLBOARD_* variable: real children print the environment they got.

const UUID = '6f1c2b9e-0a11-4c3e-9a51-00000000a001';
let dir: string;
let virsh: string;
const saved: Record<string, string | undefined> = {};
const SECRETS = { BILLBOARD_PASSPHRASE: 'hunter2-store-passphrase', BILLBOARD_ALERT_TOKEN: 'tok-123' };

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'bb-child-env-'));
  virsh = join(dir, 'virsh');
  // `-q -c URI VERB …`: every call leaves its environment in env-VERB; list prints it; migrate runs 1.5 s
  writeFileSync(
    virsh,
    `#!/bin/sh\nenv > ${dir}/env-$4\ncase "$4" in list) env;; migrate) sleep 1.5;; domjobinfo) echo 'Job type: None';; esac\nexit 0\n`,
  );
  chmodSync(virsh, 0o755);
  for (const [k, v] of Object.entries(SECRETS)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
});

afterAll(() => {
  for (const k of Object.keys(SECRETS)) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('child environment', () => {
  it('the local virsh gets no BILLBOARD_* variable, and keeps PATH and the C locale', async () => {
    const out = await runLocalVirsh(['list'], { host: 'h', uri: 'test:///default', virshPath: virsh, timeoutMs: 10_000 });
    expect(out).toMatch(/^PATH=/m);
    expect(out).toMatch(/^LC_ALL=C$/m);
    expect(out).not.toMatch(/BILLBOARD_/);
    expect(out).not.toContain(SECRETS.BILLBOARD_PASSPHRASE);
  });

  it('the migrate guard (sh, and the virsh it runs) gets none either', async () => {
    await runLocalVirsh(['migrate', '--live', UUID, 'test:///other'], {
      host: 'h',
      uri: 'test:///default',
      virshPath: virsh,
      timeoutMs: 10_000,
      guardMigrateOf: UUID,
    });
    for (const verb of ['migrate', 'domjobinfo']) {
      const env = readFileSync(join(dir, `env-${verb}`), 'utf8');
      expect(env).toMatch(/^PATH=/m);
      expect(env, verb).not.toMatch(/BILLBOARD_/);
      expect(env, verb).not.toContain(SECRETS.BILLBOARD_PASSPHRASE);
    }
  });
});
