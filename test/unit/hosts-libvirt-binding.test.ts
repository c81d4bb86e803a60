import { describe, expect, it, vi } from 'vitest';
import { BINDING_MISSING } from '../../src/hosts/libvirt/binding.js';
import { LibvirtDriver } from '../../src/hosts/libvirt/driver.js';

// A host without the native binding (no libvirt-dev at install time): the module fails to load.
vi.mock('@unraid/libvirt', () => {
  throw new Error('Cannot find module @unraid/libvirt');
});

describe('libvirt driver without its binding', () => {
  it('fails with one line and does not throw on load', async () => {
    const d = new LibvirtDriver({ name: 'lab-x', driver: 'libvirt', uri: 'test:///default' });
    await expect(d.inventory()).rejects.toMatchObject({ code: 'UNSUPPORTED', message: `lab-x: ${BINDING_MISSING}` });
    await expect(d.scanAll()).rejects.toMatchObject({ code: 'UNSUPPORTED', message: `lab-x: ${BINDING_MISSING}` });
  });
});
