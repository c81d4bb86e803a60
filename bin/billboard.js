#!/usr/bin/env node
import { main } from '../dist/cli/main.js';

// demo/ sits above the CLI: the entry hands it in, so the CLI never imports it
const loadDemo = async () => (await import('../dist/demo/demo.js')).runDemo;

main(process.argv, { loadDemo }).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`billboard: ${err && err.message ? err.message.split('\n')[0] : String(err)}\n`);
    process.exitCode = 1;
  },
);
