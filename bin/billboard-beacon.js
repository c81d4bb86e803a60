#!/usr/bin/env node
// The agent runs from its bundle, the same single file that is copied into guests (npm run build makes it).
import '../dist/agent/billboard-beacon.js';
