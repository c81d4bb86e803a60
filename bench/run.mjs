#!/usr/bin/env node
// npm run bench -- NAME [--option value]…  runs bench/NAME.mjs against the built dist/.
// Each bench prints progress on stderr and one JSON object as its LAST stdout line.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const [name, ...rest] = process.argv.slice(2);
const names = readdirSync(here)
  .filter((f) => f.endsWith('.mjs') && f !== 'run.mjs')
  .map((f) => f.slice(0, -4));
if (!name || !names.includes(name)) {
  process.stderr.write(`usage: npm run bench -- NAME [--option value]...\nNAME is one of: ${names.join(', ')}\n`);
  process.exit(2);
}
if (!existsSync(join(here, '..', 'dist', 'cli', 'main.js'))) {
  process.stderr.write('bench: building dist/ first\n');
  const b = spawnSync('npm', ['run', 'build'], { stdio: ['ignore', 2, 2], cwd: join(here, '..') });
  if (b.status !== 0) process.exit(b.status ?? 1);
}
const r = spawnSync(process.execPath, ['--expose-gc', join(here, `${name}.mjs`), ...rest], { stdio: 'inherit' });
process.exit(r.status ?? 1);
