#!/usr/bin/env node
// Records the domain XML fixtures of test/fixtures/hosts/lab/ from the real two-host lab (root, libvirt, QEMU):
// the live and the inactive XML of one definition as libvirt writes them before and after the migrations of issue
// 19 (an authorized one a→b, persistent and undefining the source; then a bare one b→a, which leaves b a shut-off
// copy). Run: node test/lab/record-xml-fixtures.mjs [OUT_DIR]. The lab's temp dir reads /lab, its cache /cache.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { labCacheDir, startLab, virshOn } from './lab.mjs';

const out = process.argv[2] ?? new URL('../fixtures/hosts/lab/', import.meta.url).pathname;
const lab = await startLab();
const [a, b] = lab.hosts;
const scrub = (xml) => xml.split(lab.dir).join('/lab').split(labCacheDir()).join('/cache');
const save = async (file, host, args) => {
  const xml = scrub(await virshOn(host, ['dumpxml', ...args, lab.domain]));
  writeFileSync(join(out, file), xml);
  process.stderr.write(`[record] ${file}: ${xml.length} bytes\n`);
};
try {
  await save('lab-a-running-live.xml', a, []);
  await save('lab-a-running-inactive.xml', a, ['--inactive']);
  await virshOn(a, ['migrate', '--live', '--persistent', '--undefinesource', '--p2p', '--tunnelled', lab.domain, b.sshUri], 120_000);
  await save('lab-b-running-live.xml', b, []);
  await save('lab-b-running-inactive.xml', b, ['--inactive']);
  await virshOn(b, ['migrate', '--live', lab.domain, a.tcpUri], 120_000);
  await save('lab-a-transient-live.xml', a, []);
  await save('lab-b-shutoff.xml', b, []);
} finally {
  await lab.stop();
}
