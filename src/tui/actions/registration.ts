import type { ActionUi, KeyBinding } from '../keymap.js';
import { quoteArg, vmLabel } from './vm-ref.js';

// Registration decisions from a row: approve (showing the key it binds) and reject (asking why).

/** the fingerprint approve would bind: the registration's key, else the one its beacons carry */
function keyToConfirm(ui: ActionUi, uuid: string): string | undefined {
  const d = ui.data();
  return d.pending.find((r) => r.uuid === uuid)?.keyFp ?? d.snapshot.rows.find((r) => r.uuid === uuid)?.lastBeacon?.keyFp;
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
      const fp = keyToConfirm(ui, uuid);
      ui.confirm(
        `approve ${vmLabel(ui, uuid)}? ${fp ? `binds key ${fp}` : 'no key (agentless)'} (y/N)`,
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
      ui.prompt(`reject ${vmLabel(ui, uuid)}, reason: `, (t) => `reject ${uuid}${t ? ` --reason ${quoteArg(t)}` : ''}`);
    },
  };
}
