import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { testDriverXml, type TestDomainSpec } from '../../src/demo/lab-xml.js';

// Fixture hosts for tests and benches: libvirt test-driver node XML files and their test:/// URIs.

export const FIXTURE_DIR = resolve(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', 'fixtures', 'hosts');

/** test:///abs/path.xml for a file. */
export function testUri(file: string): string {
  return `test://${resolve(file)}`;
}

export function fixtureUri(name: 'host-a' | 'host-b' | 'host-c'): string {
  return testUri(join(FIXTURE_DIR, `${name}.xml`));
}

/** Deterministic UUID / MAC for host h, domain i. */
export function genUuid(h: number, i: number): string {
  const hh = h.toString(16).padStart(4, '0');
  const ii = i.toString(16).padStart(12, '0');
  return `b111b0a2-${hh}-4000-8000-${ii}`;
}

export function genMac(h: number, i: number, nic = 0): string {
  const b = [0x52, 0x54, (h >> 8) & 0xff, h & 0xff, (i >> 8) & 0xff, ((i & 0x3f) << 2) | (nic & 3)];
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/** N domains for host h: 4 in 5 running, the rest shut off, 1 or 2 NICs each. */
export function genDomains(h: number, n: number): TestDomainSpec[] {
  return Array.from({ length: n }, (_, i) => ({
    uuid: genUuid(h, i),
    name: `h${h}-vm${i}`,
    state: i % 5 === 4 ? 'shutoff' : 'running',
    macs: i % 3 === 0 ? [genMac(h, i, 0), genMac(h, i, 1)] : [genMac(h, i, 0)],
    memoryKiB: 524288 * (1 + (i % 4)),
    vcpus: 1 + (i % 2),
    os: ['debian12', 'ubuntu22.04', 'fedora40', 'alpine3.19'][i % 4],
  }));
}

/** Write `hosts` host XMLs of `domains` domains each into dir; returns their paths and URIs. */
export function writeHostXmls(dir: string, hosts: number, domains: number): { file: string; uri: string; domains: TestDomainSpec[] }[] {
  mkdirSync(dir, { recursive: true });
  return Array.from({ length: hosts }, (_, h) => {
    const file = join(dir, `host-${String(h + 1).padStart(2, '0')}.xml`);
    const doms = genDomains(h + 1, domains);
    writeFileSync(file, testDriverXml(doms));
    return { file, uri: testUri(file), domains: doms };
  });
}
