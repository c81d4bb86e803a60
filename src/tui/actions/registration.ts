import type { ActionUi, KeyBinding } from '../keymap.js';
import { quoteArg, vmLabel } from './vm-ref.js';

// Registration decisions from a row: approve (showing the key it binds) and reject (asking why). Each checks the
// registration's state before asking anything, and points to the command that would work instead.

/** the fingerprint approve would bind: the registration's key, else the one its beacons carry */
function keyToConfirm(ui: ActionUi, uuid: string): string | undefined {
  const d = ui.data();
  return d.pending.find((r) => r.uuid === uuid)?.keyFp ?? d.snapshot.rows.find((r) => r.uuid === uuid)?.lastBeacon?.keyFp;
}

/** the registration state the console last published for a VM (a pending request counts as pending) */
function stateOf(ui: ActionUi, uuid: string): string | undefined {
  const d = ui.data();
  if (d.pending.some((r) => r.uuid === uuid)) return 'pending';
  return d.snapshot.rows.find((r) => r.uuid === uuid)?.registration;
}

/** approve: the operator sees the fingerprint approval binds, and the console binds exactly that one */
export function approveKey<T>(help: string, uuidOf: (row: T) => string): KeyBinding<T> {
  return {
    key: 'a',
    help,
    mutating: true,
    hint: true,
    run(row, ui) {
      const uuid = uuidOf(row);
      const label = vmLabel(ui, uuid);
      if (stateOf(ui, uuid) === 'approved') return ui.status(`${label} is already approved`, 'info');
      const fp = keyToConfirm(ui, uuid);
      ui.confirm(
        `approve ${label}? ${fp ? `binds key ${fp}` : 'no key (agentless)'} (y/N)`,
        `approve ${uuid}${fp ? ` --key ${quoteArg(fp)}` : ''}`,
      );
    },
  };
}

export function rejectKey<T>(help: string, uuidOf: (row: T) => string): KeyBinding<T> {
  return {
    key: 'r',
    help,
    mutating: true,
    hint: true,
    run(row, ui) {
      const uuid = uuidOf(row);
      const label = vmLabel(ui, uuid);
      const state = stateOf(ui, uuid);
      if (state === 'approved')
        return ui.status(`${label} is approved: reject is for requests; to withdraw the approval type :revoke ${uuid}`, 'error');
      if (state === 'rejected' || state === 'revoked') return ui.status(`${label} is already ${state}`, 'info');
      ui.prompt(`reject ${label}, reason: `, (t) => `reject ${uuid}${t ? ` --reason ${quoteArg(t)}` : ''}`);
    },
  };
}
