#!/usr/bin/env node
import { main } from '../dist/beacon/agent-cli.js';

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`billboard-beacon: ${err && err.message ? err.message.split('\n')[0] : String(err)}\n`);
    process.exitCode = 1;
  },
);
