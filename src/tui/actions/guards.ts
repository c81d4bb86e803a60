import type { AuditEntry, Finding, HostStatus, MigrationJob, Registration, VmRow } from '../../model/types.js';

// Which row type a view's selection is: the guards key handlers receive their typed row through.

export const isVmRow = (x: object): x is VmRow => 'instances' in x && 'status' in x;
export const isRegistration = (x: object): x is Registration => 'origin' in x && 'createdAt' in x && 'uuid' in x;
export const isFinding = (x: object): x is Finding => 'code' in x && 'evidence' in x && 'key' in x;
export const isJob = (x: object): x is MigrationJob => 'destination' in x && 'requestedAt' in x;
export const isHost = (x: object): x is HostStatus => 'driver' in x && 'target' in x;
export const isAuditEntry = (x: object): x is AuditEntry => 'prevHash' in x && 'actor' in x;
