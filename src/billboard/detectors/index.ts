import type { VmDetector } from '../state.js';
import { definitionDrift } from './definition-drift.js';
import { duplicateUuid } from './duplicate-uuid.js';
import { forgedBeacon } from './forged-beacon.js';
import { migrationGhost } from './migration-ghost.js';
import { phantom } from './phantom.js';
import { replayedBeacon } from './replayed-beacon.js';
import { silent } from './silent.js';
import { unauthorizedMigration } from './unauthorized-migration.js';
import { unregistered } from './unregistered.js';

export { admissionBypassed } from './admission-bypassed.js';
export { duplicateMac, type MacClaim } from './duplicate-mac.js';
export { ipConflict, type IpClaim } from './ip-conflict.js';

/** Every detector whose subject is one VM identity (MAC and IP detectors have their own subjects). */
export const VM_DETECTORS: readonly VmDetector[] = [
  duplicateUuid,
  migrationGhost,
  forgedBeacon,
  replayedBeacon,
  unregistered,
  unauthorizedMigration,
  definitionDrift,
  silent,
  phantom,
];

export {
  definitionDrift,
  duplicateUuid,
  forgedBeacon,
  migrationGhost,
  phantom,
  replayedBeacon,
  silent,
  unauthorizedMigration,
  unregistered,
};
