#!/usr/bin/env node
// Records the domain XML fixtures of test/fixtures/hosts/lab/ from the real two-host lab (root, libvirt, QEMU):
// the live and the inactive XML of one definition as libvirt writes them before and after the migrations of issue
// 19 (an authorized one a→b, persistent and undefining the source; then a bare one b→a, which leaves b a shut-off
// copy). Then two more domains with the devices libvirt fills in at start: `desktop` (what virt-install gives a
// desktop guest: SPICE, QXL, the SPICE and guest agent channels, USB redirection, sound, a tablet, an RNG) and
// `vnc` (VNC with no listen address, and a unix channel bound without a path), each live and inactive.
// Run: node test/lab/record-xml-fixtures.mjs [OUT_DIR]. The lab's temp dir reads /lab, its cache /cache.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { labCacheDir, startLab, virshOn } from './lab.mjs';

const out = process.argv[2] ?? new URL('../fixtures/hosts/lab/', import.meta.url).pathname;
const lab = await startLab();
const [a, b] = lab.hosts;
const scrub = (xml) => xml.split(lab.dir).join('/lab').split(labCacheDir()).join('/cache');
const DEVICES = {
  desktop:
    "<graphics type='spice' autoport='yes'><listen type='address'/><image compression='off'/></graphics>" +
    "<video><model type='qxl' ram='65536' vram='65536' vgamem='16384' heads='1' primary='yes'/></video>" +
    "<channel type='spicevmc'><target type='virtio' name='com.redhat.spice.0'/></channel>" +
    "<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>" +
    "<input type='tablet' bus='usb'/><controller type='usb' model='qemu-xhci' ports='15'/>" +
    "<redirdev bus='usb' type='spicevmc'/><redirdev bus='usb' type='spicevmc'/><sound model='ich9'/>" +
    "<rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>",
  vnc:
    "<graphics type='vnc' port='-1' autoport='yes'/>" +
    "<channel type='unix'><source mode='bind'/><target type='virtio' name='org.qemu.guest_agent.0'/></channel>",
};
const save = async (file, host, args, domain = lab.domain) => {
  const xml = scrub(await virshOn(host, ['dumpxml', ...args, domain]));
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
  for (const [name, devices] of Object.entries(DEVICES)) {
    const file = join(lab.dir, `${name}.xml`);
    writeFileSync(
      file,
      lab.guestXml.replace(`<name>${lab.domain}</name>`, `<name>${name}</name>`).replace('<memballoon', `${devices}\n    <memballoon`),
    );
    await virshOn(b, ['define', file]);
    await virshOn(b, ['start', name]);
    await save(`${name}-running-live.xml`, b, [], name);
    await save(`${name}-running-inactive.xml`, b, ['--inactive'], name);
    await virshOn(b, ['destroy', name]);
  }
} finally {
  await lab.stop();
}
