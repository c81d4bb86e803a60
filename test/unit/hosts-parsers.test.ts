import { describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { definitionHash, DomainXmlError, osFromLibosinfoId, parseDomainXml, withSavedDefinition } from '../../src/hosts/domain-xml.js';
import {
  parseBatch,
  parseRawBatch,
  sessionDomainLines,
  sessionRawDomains,
  splitBatch,
  TruncatedOutputError,
} from '../../src/hosts/virsh/batch.js';
import { checkHostKey, hostFieldMatches, parseKnownHosts, sshFingerprint } from '../../src/hosts/ssh/known-hosts.js';
import { classifyVirshError, virshErrorText } from '../../src/hosts/errors.js';
import { migrateArgs } from '../../src/hosts/virsh/commands.js';
import { parseDomIfAddr, parseDomJobInfo, parseDomState, parseFreecell, parseNodeInfo, parseSize } from '../../src/hosts/virsh/text.js';

const LIVE = `<domain type='kvm' id='7'>
  <name>web-1</name>
  <uuid>6F1C2B9E-0A11-4C3E-9A51-00000000A001</uuid>
  <metadata>
    <libosinfo:libosinfo xmlns:libosinfo="http://libosinfo.org/xmlns/libvirt/domain/1.0">
      <libosinfo:os id="http://debian.org/debian/12"/>
    </libosinfo:libosinfo>
  </metadata>
  <memory unit='MiB'>1024</memory>
  <currentMemory unit='KiB'>1000000</currentMemory>
  <vcpu placement='static' current='2'>4</vcpu>
  <resource><partition>/machine</partition></resource>
  <os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'>
      <source file='/var/lib/libvirt/images/web-1.qcow2' index='1'/>
      <backingStore/>
      <target dev='vda' bus='virtio'/>
      <alias name='virtio-disk0'/>
    </disk>
    <interface type='network'>
      <mac address='52:54:00:0A:00:01'/>
      <source network='default' portid='1b7c' bridge='virbr0'/>
      <target dev='vnet3'/>
      <link state='down'/>
      <alias name='net0'/>
    </interface>
    <interface type='bridge'>
      <mac address='52:54:00:0a:00:02'/>
      <source bridge='br0'/>
      <target dev='vnet4'/>
    </interface>
    <serial type='pty'><source path='/dev/pts/3'/><target port='0'/><alias name='serial0'/></serial>
    <console type='pty' tty='/dev/pts/3'><source path='/dev/pts/3'/><target type='serial' port='0'/></console>
    <graphics type='vnc' port='5901' autoport='yes' listen='127.0.0.1'><listen type='address' address='127.0.0.1'/></graphics>
    <hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></source></hostdev>
  </devices>
  <seclabel type='dynamic' model='apparmor' relabel='yes'><label>libvirt-6f1c</label></seclabel>
</domain>`;

const INACTIVE = `<domain type='kvm'>
  <name>web-1</name>
  <uuid>6f1c2b9e-0a11-4c3e-9a51-00000000a001</uuid>
  <metadata>
    <libosinfo:libosinfo xmlns:libosinfo="http://libosinfo.org/xmlns/libvirt/domain/1.0">
      <libosinfo:os id="http://debian.org/debian/12"/>
    </libosinfo:libosinfo>
  </metadata>
  <memory unit='MiB'>1024</memory>
  <currentMemory unit='KiB'>1048576</currentMemory>
  <vcpu placement='static' current='2'>4</vcpu>
  <os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'>
      <source file='/var/lib/libvirt/images/web-1.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='network'>
      <mac address='52:54:00:0A:00:01'/>
      <source network='default'/>
    </interface>
    <interface type='bridge'>
      <mac address='52:54:00:0a:00:02'/>
      <source bridge='br0'/>
    </interface>
    <serial type='pty'><target port='0'/></serial>
    <console type='pty'><target type='serial' port='0'/></console>
    <graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1'><listen type='address' address='127.0.0.1'/></graphics>
    <hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></source></hostdev>
  </devices>
</domain>`;

describe('domain XML', () => {
  it('extracts identity, resources, NICs, disks, OS and passthrough devices', () => {
    const ips = new Map([['52:54:00:0a:00:01', ['192.168.122.5']]]);
    const d = parseDomainXml(LIVE, { state: 'running', ips });
    expect(d.uuid).toBe('6f1c2b9e-0a11-4c3e-9a51-00000000a001');
    expect(d.name).toBe('web-1');
    expect(d.vcpus).toBe(2);
    expect(d.memoryKiB).toBe(1048576);
    expect(d.macs).toEqual(['52:54:00:0a:00:01', '52:54:00:0a:00:02']);
    expect(d.interfaces[0]).toMatchObject({ target: 'vnet3', type: 'network', link: 'down', ips: ['192.168.122.5'] });
    expect(d.ips).toEqual(['192.168.122.5']);
    expect(d.disks).toEqual(['/var/lib/libvirt/images/web-1.qcow2']);
    expect(d.os).toBe('debian12');
    expect(d.arch).toBe('x86_64');
    expect(d.localOnlyDevices?.[0]).toMatch(/^hostdev pci .*bus=0x01/);
  });

  it('hashes the live and inactive XML of one definition the same', () => {
    expect(definitionHash(LIVE)).toBe(definitionHash(INACTIVE));
    expect(definitionHash(LIVE)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('changes the hash when the definition changes', () => {
    const base = definitionHash(INACTIVE);
    expect(definitionHash(INACTIVE.replace("<memory unit='MiB'>1024", "<memory unit='MiB'>2048"))).not.toBe(base);
    expect(definitionHash(INACTIVE.replace('52:54:00:0a:00:02', '52:54:00:0a:00:09'))).not.toBe(base);
    expect(definitionHash(INACTIVE.replace('web-1.qcow2', 'evil.qcow2'))).not.toBe(base);
  });

  // Recorded from the lab (test/lab/record-xml-fixtures.mjs): tiny running on lab-a (live and inactive XML), after an
  // authorized migration to lab-b (live and inactive), and after a bare migration back (transient and live on lab-a,
  // a shut-off copy left on lab-b). One definition throughout: libvirt expands the CPU at start (check='full', the
  // features it required), adds aliases, the resource partition, the dynamic seclabel and the domain id.
  const LAB = (f: string) => readFileSync(new URL(`../fixtures/hosts/lab/${f}.xml`, import.meta.url), 'utf8');
  const LAB_XML = ['lab-a-running-live', 'lab-a-running-inactive', 'lab-b-running-live', 'lab-b-running-inactive', 'lab-a-transient-live'];

  it('hashes the live and the inactive XML of one definition the same (recorded from the lab)', () => {
    const shutoff = definitionHash(LAB('lab-b-shutoff'));
    for (const f of LAB_XML) expect([f, definitionHash(LAB(f))]).toEqual([f, shutoff]);
    // a definition without <cpu> hashes as one whose <cpu> fixes nothing; a topology is kept
    const noCpu = LAB('lab-b-shutoff').replace(/<cpu[\s\S]*?<\/cpu>/, '');
    expect(definitionHash(noCpu)).toBe(shutoff);
    expect(definitionHash(LAB('lab-b-shutoff').replace('</cpu>', "<topology sockets='1' cores='2' threads='1'/></cpu>"))).not.toBe(shutoff);
  });

  it("a running domain's saved definition: its hash when an edit waits for the next start, nothing otherwise", () => {
    const live = parseDomainXml(LAB('lab-a-running-live'), { state: 'running' });
    // the recorded inactive XML of the same definition: nothing waits
    expect(withSavedDefinition(live, LAB('lab-a-running-inactive'))).toBe(live);
    const edited = LAB('lab-a-running-inactive').replace(/<memory unit='KiB'>\d+/, "<memory unit='KiB'>999424");
    expect(edited).not.toBe(LAB('lab-a-running-inactive'));
    expect(withSavedDefinition(live, edited)).toEqual({ ...live, savedDefinitionHash: definitionHash(edited) });
    // a shut-off domain's scan reads that definition itself
    const off = parseDomainXml(LAB('lab-b-shutoff'), { state: 'shutoff' });
    expect(withSavedDefinition(off, edited)).toBe(off);
    // one that could not be read says so: what the scanner knew stands
    expect(withSavedDefinition(live, undefined)).toEqual({ ...live, savedDefinitionUnread: true });
    expect(withSavedDefinition(live, '')).toEqual({ ...live, savedDefinitionUnread: true });
    expect(withSavedDefinition(live, '<domain><name>')).toEqual({ ...live, savedDefinitionUnread: true });
  });

  it('changes the hash on a virsh edit of the shut-off copy: memory, a new disk, a new NIC, a new kernel command line', () => {
    const xml = LAB('lab-b-shutoff');
    const base = definitionHash(xml);
    const memory = xml.replace(/131072</g, '262144<');
    const disk = xml.replace(
      '<controller',
      "<disk type='file' device='disk'><source file='/tmp/x.img'/><target dev='vda' bus='virtio'/></disk><controller",
    );
    const nic = xml.replace(
      '<memballoon',
      "<interface type='user'><mac address='52:54:00:b1:11:02'/><model type='e1000'/></interface><memballoon",
    );
    const cmdline = xml.replace('panic=-1', 'panic=-1 init=/bin/sh');
    for (const edited of [memory, disk, nic, cmdline]) expect(definitionHash(edited)).not.toBe(base);
  });

  it('also hashes under the first normal form, so approvals bound before the current one still match (upgrade path)', () => {
    // values the first form (commit 6c64d35's definitionHash) gave for these recorded definitions
    expect(parseDomainXml(LAB('lab-a-running-live'), { state: 'running' }).legacyDefinitionHash).toBe(
      '68e72aa100b931c46478107460335eb79e5c7a63cd1c2f55a7e6a0eb13198396',
    );
    expect(parseDomainXml(LAB('lab-b-shutoff'), { state: 'shutoff' }).legacyDefinitionHash).toBe(
      'e7779c0cb5bf98a019242b5f413dd6659295f449bbc7558d20849177abceab70',
    );
  });

  // Recorded from the lab too: `desktop` (virt-install's desktop devices: SPICE, QXL, the SPICE and guest agent
  // channels, USB redirection, sound, a tablet, an RNG) and `vnc` (VNC without a listen address, a unix channel bound
  // without a path). libvirt fills in the listen address, a socket path and the channel's source at start.
  it('hashes the live and the inactive XML of a desktop and a VNC guest the same (recorded from the lab)', () => {
    for (const g of ['desktop', 'vnc']) {
      const live = parseDomainXml(LAB(`${g}-running-live`), { state: 'running' });
      expect([g, live.definitionHash]).toEqual([g, definitionHash(LAB(`${g}-running-inactive`))]);
      // a running guest nobody edited has no saved definition waiting
      expect(withSavedDefinition(live, LAB(`${g}-running-inactive`))).toBe(live);
    }
  });

  it("a listen address the definition names is part of it: VNC opened to 0.0.0.0 is an edit, 127.0.0.1 (libvirt's default) is not", () => {
    const xml = LAB('vnc-running-inactive');
    expect(xml).toContain("<listen type='address'/>");
    const base = definitionHash(xml);
    expect(definitionHash(xml.replace("<listen type='address'/>", "<listen type='address' address='127.0.0.1'/>"))).toBe(base);
    expect(definitionHash(xml.replace("<listen type='address'/>", "<listen type='address' address='0.0.0.0'/>"))).not.toBe(base);
    // an empty <source mode='bind'/> on a unix channel is what libvirt fills in with a generated path at start
    const target = "<target type='virtio' name='org.qemu.guest_agent.0'/>";
    expect(xml).toContain(target);
    expect(definitionHash(xml.replace(target, `<source mode='bind'/>${target}`))).toBe(base);
  });

  it('also hashes under the second normal form where it differs, so approvals bound under it still match', () => {
    // values the second form (before graphics listens and channel sources were normalized) gave for the live XML
    const desktop = parseDomainXml(LAB('desktop-running-live'), { state: 'running' });
    expect(desktop.previousDefinitionHash).toBe('004f2f442fb7f29a476f0bc4939c92b7e7659d7deb8818f70354caca51bd1e2d');
    expect(parseDomainXml(LAB('vnc-running-live'), { state: 'running' }).previousDefinitionHash).toBe(
      'b44630e5cb369cfc1827c77623a054a5d067e52a3de22cd528f9de444cdac96d',
    );
    // where the forms agree there is nothing more to carry
    expect(parseDomainXml(LAB('lab-b-shutoff'), { state: 'shutoff' })).not.toHaveProperty('previousDefinitionHash');
  });

  it('takes the OS from libosinfo metadata only: <os><type> (hvm) is not an operating system', () => {
    expect(parseDomainXml(LAB('lab-a-running-live'), { state: 'running' }).os).toBeUndefined();
    expect(parseDomainXml(LAB('lab-a-running-live'), { state: 'running' }).arch).toBe('x86_64');
    expect(parseDomainXml(LIVE, { state: 'running' }).os).toBe('debian12');
  });

  it('rejects malformed or incomplete XML with one line', () => {
    expect(() => parseDomainXml(LIVE.replace('</devices>', '</devics>'), { state: 'running' })).toThrow(DomainXmlError);
    expect(() => parseDomainXml('<domain><name>x</name></domain>', { state: 'running' })).toThrow(/uuid/);
    expect(() => parseDomainXml('not xml at all', { state: 'running' })).toThrow(DomainXmlError);
  });

  it('derives libosinfo short ids', () => {
    expect(osFromLibosinfoId('http://ubuntu.com/ubuntu/22.04')).toBe('ubuntu22.04');
    expect(osFromLibosinfoId('http://microsoft.com/win/10')).toBe('win10');
  });
});

describe('virsh text', () => {
  it('parses domstate', () => {
    expect(parseDomState('running\n\n')).toBe('running');
    expect(parseDomState('shut off\n')).toBe('shutoff');
    expect(parseDomState('paused (user)')).toBe('paused');
    expect(parseDomState('in shutdown')).toBe('shutdown');
    expect(parseDomState('')).toBe('unknown');
  });

  it('parses domjobinfo with units, pages/s and page size', () => {
    const s = parseDomJobInfo(
      `Job type:         Unbounded
Operation:        Outgoing migration
Time elapsed:     1234         ms
Data processed:   123.456 MiB
Data remaining:   1.500 GiB
Data total:       2.008 GiB
Memory processed: 120.000 MiB
Memory remaining: 1.000 GiB
Memory total:     2.000 GiB
Memory bandwidth: 32.000 MiB/s
Dirty rate:       1234         pages/s
Page size:        4096         bytes
Iteration:        3
Expected downtime: 300          ms
`,
      42,
    )!;
    expect(s).toMatchObject({
      at: 42,
      type: 'unbounded',
      operation: 'Outgoing migration',
      elapsedMs: 1234,
      iteration: 3,
      expectedDowntimeMs: 300,
      pageSize: 4096,
    });
    expect(s.dataProcessedBytes).toBe(Math.round(123.456 * 1024 * 1024));
    expect(s.dataRemainingBytes).toBe(1.5 * 1024 ** 3);
    expect(s.memoryTotalBytes).toBe(2 * 1024 ** 3);
    expect(s.bandwidthBps).toBe(32 * 1024 * 1024);
    expect(s.dirtyRateBps).toBe(1234 * 4096);
    expect(parseDomJobInfo('Job type:         None\n')).toBeNull();
    expect(parseDomJobInfo('Job type: Completed\nTotal downtime: 57 ms\n')).toMatchObject({ type: 'completed', totalDowntimeMs: 57 });
    expect(() => parseDomJobInfo('garbage')).toThrow(/Job type/);
  });

  it('parses nodeinfo, freecell and sizes', () => {
    const n = parseNodeInfo('CPU model:           x86_64\nCPU(s):              4\nMemory size:         8388608 KiB\n', 1024);
    expect(n).toMatchObject({ cpus: 4, memoryKiB: 8388608, freeMemoryKiB: 1024, cpuModel: 'x86_64' });
    expect(() => parseNodeInfo('nothing here')).toThrow();
    expect(parseFreecell('    0: 1000 KiB\n    1: 2000 KiB\n--------------------\nTotal: 3000 KiB\n')).toBe(3000);
    expect(parseFreecell('Total: 2.5 GiB')).toBe(2.5 * 1024 * 1024);
    expect(parseSize('4096 bytes')).toBe(4096);
    expect(parseSize('12 parsecs')).toBeUndefined();
  });

  it('parses domifaddr including continuation lines', () => {
    const m = parseDomIfAddr(` Name       MAC address          Protocol     Address
-------------------------------------------------------------------------------
 vnet0      52:54:00:0A:00:01    ipv4         192.168.122.3/24
 -          -                    ipv6         fe80::5054:ff:fe0a:1/64
 vnet1      52:54:00:0a:00:02    ipv4         10.0.0.9/8
`);
    expect(m.get('52:54:00:0a:00:01')).toEqual(['192.168.122.3', 'fe80::5054:ff:fe0a:1']);
    expect(m.get('52:54:00:0a:00:02')).toEqual(['10.0.0.9']);
  });

  it('classifies virsh errors', () => {
    const text = virshErrorText(
      'error: Failed to update interface link state\nerror: this function is not supported by the connection driver: virDomainUpdateDeviceFlags\n',
    );
    expect(text).toMatch(/^Failed to update interface link state: this function is not supported/);
    expect(classifyVirshError(text)).toBe('UNSUPPORTED');
    expect(classifyVirshError("failed to get domain 'x'")).toBe('NOT_FOUND');
    expect(classifyVirshError('failed to connect to the hypervisor')).toBe('HOST_DOWN');
    expect(classifyVirshError('something else')).toBe('HOST_ERROR');
  });

  it('builds migrate arguments per transport', () => {
    const u = '6f1c2b9e-0a11-4c3e-9a51-00000000a001';
    expect(migrateArgs(u, { transport: 'tunnelled', destUri: 'qemu+ssh://b/system', bandwidthMiBs: 100 })).toEqual([
      'migrate',
      '--live',
      '--persistent',
      '--undefinesource',
      '--p2p',
      '--tunnelled',
      '--bandwidth',
      '100',
      u,
      'qemu+ssh://b/system',
    ]);
    expect(migrateArgs(u, { transport: 'tls', destUri: 'qemu+tls://b/system' })).toContain('--tls');
    const direct = migrateArgs(u, { transport: 'direct', destUri: 'qemu+tcp://b/system', persistent: false, undefineSource: false });
    expect(direct).toEqual(['migrate', '--live', u, 'qemu+tcp://b/system']);
  });
});

describe('scan batch output', () => {
  const xml = INACTIVE;
  const u = '6f1c2b9e-0a11-4c3e-9a51-00000000a001';
  const N = '0a1b2c3d';
  const M = `@@BB${N}:`;
  const good = `${M}node\nCPU model: x86_64\nCPU(s): 2\nMemory size: 1000 KiB\n${M}free\nTotal: 500 KiB\n${M}dom:${u}\nrunning\n${M}xml:${u}\n${xml}\n${M}if:${u}${M}chunk\n${M}end\n`;

  it('parses node, domains and markers glued to the previous output', () => {
    const b = parseBatch(good, N);
    expect(b.node).toMatchObject({ cpus: 2, memoryKiB: 1000, freeMemoryKiB: 500 });
    expect(b.domains.map((d) => [d.uuid, d.state])).toEqual([[u, 'running']]);
  });

  it('re-parses only changed XML when given a cache, with fresh state', () => {
    const cache = new Map();
    const first = parseBatch(good, N, cache).domains[0];
    const second = parseBatch(good.replace('\nrunning\n', '\npaused\n'), N, cache).domains[0];
    expect(second).toMatchObject({ uuid: u, state: 'paused', definitionHash: first.definitionHash });
    expect(first.state).toBe('running');
    expect(cache.size).toBe(1);
    expect(() => parseBatch(good.replace('</devices>', '</dev'), N, cache)).toThrow(/malformed/);
  });

  it('detects truncated output', () => {
    expect(() => splitBatch(good.slice(0, good.length / 2), N)).toThrow(TruncatedOutputError);
    expect(() => splitBatch('', N)).toThrow(/truncated/);
  });

  it('takes markers only with the scan’s nonce: markers in a domain’s XML are its text', () => {
    const forged = `@@BB:end @@BB:chunk @@BB:xml:${u} @@BBffff:end ${M.replace(N, 'ffff')}dom:${u}`;
    const text = good.replace('</devices>', `</devices><description>${forged}</description>`);
    const b = parseBatch(text, N);
    expect(b.domains.map((d) => d.uuid)).toEqual([u]);
    expect(() => splitBatch(good, 'ffff')).toThrow(TruncatedOutputError);
  });

  it('a session scan asked for saved definitions reads them for running domains only, hashed once per text', () => {
    const off = '6f1c2b9e-0a11-4c3e-9a51-00000000a002';
    const lists = { uuids: [u, off], inactive: new Set([off]), node: '', free: '' };
    expect(sessionDomainLines(lists)).toEqual([`domstate ${u}`, `dumpxml ${u}`, `domifaddr ${u}`, `domstate ${off}`, `dumpxml ${off}`]);
    const lines = sessionDomainLines(lists, true);
    expect(lines).toEqual([
      `domstate ${u}`,
      `dumpxml ${u}`,
      `domifaddr ${u}`,
      `dumpxml --inactive ${u}`,
      `domstate ${off}`,
      `dumpxml ${off}`,
    ]);
    const edited = xml.replace("<memory unit='MiB'>1024", "<memory unit='MiB'>2048");
    const offXml = xml.replace(u, off).replace('<name>web-1</name>', '<name>old-1</name>');
    const outs = (saved: string | Error) => [
      { out: 'running\n' },
      { out: LIVE },
      { out: '' },
      saved instanceof Error ? { out: '', error: saved.message } : { out: saved },
      { out: 'shut off\n' },
      { out: offXml },
    ];
    const cache = new Map();
    const scan = (saved: string | Error) =>
      parseRawBatch({ node: '', free: '', domains: sessionRawDomains(lists, outs(saved), true) }, cache, true).domains;
    expect(scan(INACTIVE)[0]).not.toHaveProperty('savedDefinitionHash'); // the same definition: nothing waits
    const [running, shutoff] = scan(edited);
    expect(running).toMatchObject({ uuid: u, state: 'running', savedDefinitionHash: definitionHash(edited) });
    expect(running!.definitionHash).toBe(definitionHash(LIVE));
    expect(shutoff).not.toHaveProperty('savedDefinitionHash');
    expect(cache.get(u).saved).toMatchObject({ info: { savedDefinitionHash: definitionHash(edited) } }); // kept beside the parse
    // a failed read is unread, not "nothing waits": the scanner keeps what it knew
    expect(scan(new Error('error: failed'))[0]).toMatchObject({ savedDefinitionUnread: true });
    expect(scan(new Error('error: failed'))[0]).not.toHaveProperty('savedDefinitionHash');
    // listed shut off, running by the time of its state: no saved definition was asked for, so none was read
    const started = sessionRawDomains(lists, outs(INACTIVE), true).map((d) => (d.uuid === off ? { ...d, state: 'running\n' } : d));
    const late = parseRawBatch({ node: '', free: '', domains: started }, cache, true).domains[1];
    expect(late).toMatchObject({ uuid: off, state: 'running', savedDefinitionUnread: true });
    // a scan that asked for none marks nothing
    expect(parseRawBatch({ node: '', free: '', domains: started }, cache).domains[1]).not.toHaveProperty('savedDefinitionUnread');
  });

  it('names the domain whose XML is malformed', () => {
    expect(() => parseBatch(good.replace('</devices>', '</dev'), N)).toThrow(new RegExp(`malformed.*${u}`));
  });
});

describe('known_hosts', () => {
  const blob = Buffer.from(
    '000000000b7373682d65643235353139000000201111111111111111111111111111111111111111111111111111111111111111',
    'hex',
  );
  const other = Buffer.from(
    '000000000b7373682d65643235353139000000202222222222222222222222222222222222222222222222222222222222222222',
    'hex',
  );
  const b64 = blob.toString('base64');

  it('matches plain, [host]:port, patterns, negations and hashed entries', () => {
    expect(hostFieldMatches('lab-a,10.0.0.1', '10.0.0.1', 22)).toBe(true);
    expect(hostFieldMatches('[10.0.0.1]:2222', '10.0.0.1', 2222)).toBe(true);
    expect(hostFieldMatches('10.0.0.1', '10.0.0.1', 2222)).toBe(false);
    expect(hostFieldMatches('10.0.0.*,!10.0.0.7', '10.0.0.7', 22)).toBe(false);
    expect(hostFieldMatches('10.0.0.*', '10.0.0.8', 22)).toBe(true);
    const salt = Buffer.alloc(20, 7);
    const hashed = `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update('[10.0.0.1]:2222').digest('base64')}`;
    expect(hostFieldMatches(hashed, '10.0.0.1', 2222)).toBe(true);
    expect(hostFieldMatches(hashed, '10.0.0.2', 2222)).toBe(false);
  });

  it('accepts the known key, refuses unknown, changed and revoked keys with the fingerprint', () => {
    const entries = parseKnownHosts(`# comment\n[h]:2222 ssh-ed25519 ${b64}\n@revoked r ssh-ed25519 ${b64}\nr ssh-ed25519 ${b64}\n`);
    expect(checkHostKey(entries, 'h', 2222, blob, 'kh').ok).toBe(true);
    const changed = checkHostKey(entries, 'h', 2222, other, 'kh');
    expect(changed).toMatchObject({ ok: false, reason: 'changed' });
    if (!changed.ok) expect(changed.message).toContain(sshFingerprint(other));
    const unknown = checkHostKey(entries, 'nobody', 22, blob, 'kh');
    expect(unknown).toMatchObject({ ok: false, reason: 'unknown' });
    if (!unknown.ok) expect(unknown.message).toContain(sshFingerprint(blob));
    expect(checkHostKey(entries, 'r', 22, blob, 'kh')).toMatchObject({ ok: false, reason: 'revoked' });
  });
});

describe('free memory, one figure', () => {
  it("a test-driver host's free memory is its total, noted; a real host's figure is left as it is", async () => {
    const { testDriverFreeMemory } = await import('../../src/hosts/virsh/commands.js');
    const node = { cpus: 16, memoryKiB: 64 * 1024 * 1024, freeMemoryKiB: 0 };
    expect(testDriverFreeMemory(node, 'test:///tmp/lab-a.xml')).toEqual({
      ...node,
      freeMemoryKiB: 64 * 1024 * 1024,
      freeMemoryNote: 'test driver: no free-memory figure, its total',
    });
    expect(testDriverFreeMemory({ ...node, freeMemoryKiB: 1024 }, 'test:///x.xml').freeMemoryNote).toBeUndefined();
    expect(testDriverFreeMemory(node, 'qemu:///system')).toBe(node);
  });
});
