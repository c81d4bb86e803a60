#!/usr/bin/env node
// The bundle's entry: the whole agent runs from this one file, in a guest (`node billboard-beacon.mjs …`) or
// through bin/billboard-beacon.js.
import { main } from './main.js';

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`billboard-beacon: ${(e as Error)?.message?.split('\n')[0] ?? String(e)}\n`);
    process.exitCode = 1;
  },
);
