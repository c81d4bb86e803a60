// A host's scans keep no old output alive: over many scans in each of which one domain's XML changes, the parse
// cache's entries and the addresses kept from them are strings of their own, not slices of their scan's whole
// output (which would keep one output per scan that changed something: ~0.7 MB a scan here). Measured in a child
// node with --expose-gc, over the built parser (dist/), as the scanner feeds it.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const SCRIPT = `
import { readFileSync } from 'node:fs';
import { parseRawBatch } from './dist/hosts/virsh/batch.js';
const tpl = readFileSync('test/fixtures/hosts/lab/lab-a-running-live.xml', 'utf8');
const D = 300, SCANS = 20;
const uuid = (i) => '00000000-0000-4000-8000-' + String(i).padStart(12, '0');
const cache = new Map();
let keep;
const heap = () => { gc(); gc(); return process.memoryUsage().heapUsed; };
let first = 0;
for (let s = 0; s < SCANS; s++) {
  const parts = [], spans = [];
  let at = 0;
  for (let i = 0; i < D; i++) {
    const xml = tpl.replace(/<uuid>[^<]+<\\/uuid>/, '<uuid>' + uuid(i) + '</uuid>').replace('</domain>', i === s ? '<!-- scan ' + s + ' --></domain>' : '</domain>');
    const head = '@@dom ' + i + '\\n';
    parts.push(head, xml, '\\n');
    at += head.length; spans.push([at, at + xml.length]); at += xml.length + 1;
  }
  const stdout = parts.join('');
  const ifaddr = ' vnet0  52:54:00:b1:11:01  ipv6  fd00:1234:5678:9abc:def0:1234:5678:9abc/64\\n';
  const domains = spans.map(([a, b], i) => ({ uuid: uuid(i), state: 'running', xml: stdout.slice(a, b), ifaddr: (stdout + ifaddr).slice(stdout.length) }));
  keep = parseRawBatch({ node: '', free: '', domains }, cache).domains;
  if (s === 1) first = heap();
}
console.log(JSON.stringify({ grownBytes: heap() - first, kept: keep.length }));
`;

it('twenty scans, one domain changed in each, grow the heap by well under one scan output', () => {
  if (!existsSync(join(ROOT, 'dist', 'hosts', 'virsh', 'batch.js'))) throw new Error('dist/ is missing: run npm run build');
  const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', SCRIPT], { cwd: ROOT, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  const { grownBytes, kept } = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  expect(kept).toBe(300);
  // 18 more scans: keeping each one's output would be ~12 MB; their own copies of the changed XML are ~70 KB
  expect(grownBytes).toBeLessThan(2 * 1024 * 1024);
});
