import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { configSchema } from '../../src/model/config.js';

// the shipped hook's hash as a scan asks for it: a failed read of contrib/billboard-admit is transient (tried again
// at the next scan), said once, and a good read is kept
vi.mock('node:fs', async (actual) => {
  const real = await actual<typeof import('node:fs')>();
  return { ...real, readFileSync: vi.fn(real.readFileSync) };
});

const readFileSync = vi.mocked(fs.readFileSync);
const config = configSchema.parse({ policy: { admission: 'enforce' }, admission: { hookSha256: ['a'.repeat(64)] } });

async function fresh() {
  vi.resetModules();
  return import('../../src/console/admission-hooks.js');
}

function failNextRead(times: number): void {
  for (let i = 0; i < times; i++)
    readFileSync.mockImplementationOnce(() => {
      throw Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' });
    });
}

beforeEach(() => {
  readFileSync.mockClear();
});

describe('acceptedAdmissionHooks: the shipped hook', () => {
  it('a failed read is not kept: the next scan reads again and accepts the shipped hook', async () => {
    const { acceptedAdmissionHooks, SHIPPED_HOOK } = await fresh();
    const shipped = createHash('sha256').update(fs.readFileSync(SHIPPED_HOOK)).digest('hex');
    const warn = vi.fn();
    failNextRead(2);
    expect(acceptedAdmissionHooks(config, warn)).toEqual(['a'.repeat(64)]);
    expect(acceptedAdmissionHooks(config, warn)).toEqual(['a'.repeat(64)]);
    expect(acceptedAdmissionHooks(config, warn)).toEqual(['a'.repeat(64), shipped]);
    // said once with the reason, not at every failed scan
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]![0]).toMatch(/cannot read the shipped admission hook \(EIO: i\/o error, read\).*tried again at each scan/);
  });

  it('a good read is kept: later scans do not read the file again', async () => {
    const { acceptedAdmissionHooks } = await fresh();
    const before = readFileSync.mock.calls.length;
    const first = acceptedAdmissionHooks(config, () => {});
    expect(acceptedAdmissionHooks(config, () => {})).toEqual(first);
    expect(readFileSync.mock.calls.length - before).toBe(1);
  });

  it('policy.admission off judges nothing and reads nothing', async () => {
    const { acceptedAdmissionHooks } = await fresh();
    expect(acceptedAdmissionHooks({ ...config, policy: { ...config.policy, admission: 'off' } }, () => {})).toBeUndefined();
    expect(readFileSync).not.toHaveBeenCalled();
  });
});
