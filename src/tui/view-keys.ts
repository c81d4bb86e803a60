import type { Finding, Registration, VmRow } from '../model/types.js';
import { isAuditEntry, isFinding, isHost, isJob, isRegistration, isVmRow } from './actions/guards.js';
import { JOB_KEYS } from './actions/jobs.js';
import { approveKey, rejectKey } from './actions/registration.js';
import { quoteArg } from './actions/vm-ref.js';
import { isolateKey, migrateKey, stopKey, type VmTarget } from './actions/vm.js';
import { viewKeys, type ActionUi, type ViewKeys } from './keymap.js';
import type { ViewId } from './views.js';

// Each view's keys: which actions it offers, on which row type. The actions themselves live in actions/.

const vmTarget = (r: VmRow): VmTarget => ({ uuid: r.uuid, name: r.name, hosts: r.instances.map((i) => i.host) });

/** a finding's VM and the hosts it runs on now (the row), else the hosts the finding names */
function findingTarget(f: Finding, ui: ActionUi): VmTarget {
  const row = ui.data().snapshot.rows.find((r) => r.uuid === f.vm);
  return { uuid: f.vm || undefined, name: f.vmName, hosts: row ? row.instances.map((i) => i.host) : f.hosts };
}

export const VIEW_KEYS: Record<ViewId, ViewKeys> = {
  billboard: viewKeys(isVmRow, [
    approveKey<VmRow>('approve the VM registration (shows the key it binds, asks y/N)', (r) => r.uuid),
    rejectKey<VmRow>('reject the VM registration (asks a reason)', (r) => r.uuid),
    isolateKey<VmRow>("isolate: cut off the VM's network on a host (asks y/N; which host when it runs on several)", vmTarget),
    stopKey<VmRow>('stop: HARD power-off (virsh destroy) on a host (asks y/N; the home copy of a twin needs its host typed)', vmTarget),
    migrateKey<VmRow>('migrate: pick a destination, each shown with its pre-check results', (r) => r.uuid),
  ]),
  pending: viewKeys(isRegistration, [
    approveKey<Registration>('approve the registration (shows the key it binds, asks y/N)', (r) => r.uuid),
    rejectKey<Registration>('reject the registration (asks a reason)', (r) => r.uuid),
  ]),
  findings: viewKeys(isFinding, [
    { key: 'c', short: 'ack', help: 'acknowledge the finding', mutating: true, hint: true, run: (f, ui) => ui.run(`ack ${f.id}`) },
    isolateKey<Finding>("isolate: cut off the finding's VM's network on a host (asks y/N)", findingTarget),
    stopKey<Finding>("stop: HARD power-off of the finding's VM on a host (asks y/N)", findingTarget),
  ]),
  migrations: viewKeys(isJob, JOB_KEYS),
  hosts: viewKeys(isHost, [
    { key: 'S', short: 'scan', help: 'scan the selected host now', hint: true, run: (h, ui) => ui.run(`scan ${quoteArg(h.name)}`) },
  ]),
  audit: viewKeys(isAuditEntry, [
    { key: 'V', short: 'verify', help: 'verify the audit chain', hint: true, run: (_e, ui) => ui.run('audit verify') },
  ]),
};
