import { describe, expect, it } from 'vitest';
import { decideAdmission, type AdmissionContext, type AdmissionJob, type AdmissionRequest } from '../../src/billboard/admission.js';
import type { Registration } from '../../src/model/types.js';

const UUID = '11111111-2222-4333-8444-555555555555';

function reg(extra: Partial<Registration> = {}): Registration {
  return {
    uuid: UUID,
    name: 'build-07',
    macs: [],
    state: 'approved',
    origin: 'operator',
    createdAt: 0,
    createdBy: 'alice',
    homeHost: 'lab-a',
    ...extra,
  };
}

function ctx(extra: Partial<AdmissionContext> = {}): AdmissionContext {
  return { policy: 'enforce', hosts: ['lab-a', 'lab-b', 'lab-c'], registration: reg(), runningOn: [], jobs: [], ...extra };
}

function req(extra: Partial<AdmissionRequest> = {}): AdmissionRequest {
  return { host: 'lab-a', op: 'prepare', uuid: UUID, name: 'build-07', macs: [], ...extra };
}

const job = (extra: Partial<AdmissionJob> = {}): AdmissionJob => ({
  id: 'J-1',
  source: 'lab-a',
  destination: 'lab-b',
  state: 'iterative-pre-copy',
  authorizedBy: 'bob',
  ...extra,
});

describe('decideAdmission', () => {
  it('lets an approved identity start on its home host', () => {
    const v = decideAdmission(req(), ctx());
    expect(v).toMatchObject({ allow: true, wouldAllow: true, rule: 'home-host', requestRegistration: false });
  });

  it('refuses an approved identity on another host with no authorized migration', () => {
    const v = decideAdmission(req({ host: 'lab-b' }), ctx());
    expect(v).toMatchObject({ allow: false, rule: 'not-home' });
    expect(v.reason).toContain('approved on lab-a, not lab-b');
  });

  it('lets it start on the destination of an authorized job under way', () => {
    expect(decideAdmission(req({ host: 'lab-b' }), ctx({ jobs: [job()] }))).toMatchObject({ allow: true, rule: 'migration-destination' });
  });

  it('does not count a job awaiting authorization, denied or ended as authorized', () => {
    for (const j of [
      job({ state: 'awaiting-authorization', authorizedBy: undefined }),
      job({ state: 'denied', authorizedBy: undefined }),
      job({ state: 'failed' }),
      job({ state: 'aborted' }),
    ]) {
      expect(decideAdmission(req({ host: 'lab-b' }), ctx({ jobs: [j] })).allow).toBe(false);
    }
  });

  it('lets it start where its last completed authorized migration took it', () => {
    const v = decideAdmission(req({ host: 'lab-b' }), ctx({ jobs: [job({ state: 'completed' })] }));
    expect(v).toMatchObject({ allow: true, rule: 'moved-here' });
    const back = job({ id: 'J-2', source: 'lab-b', destination: 'lab-a', state: 'completed' });
    expect(decideAdmission(req({ host: 'lab-b' }), ctx({ jobs: [job({ state: 'completed' }), back] })).allow).toBe(false);
  });

  it('lets an identity approved with no home host bound start anywhere it does not already run', () => {
    expect(decideAdmission(req({ host: 'lab-c' }), ctx({ registration: reg({ homeHost: undefined }) }))).toMatchObject({
      allow: true,
      rule: 'no-home-bound',
    });
  });

  it('accepts an incoming migration only with an authorized job for that VM, source and destination', () => {
    const running = [{ host: 'lab-a', up: true }];
    const m = req({ host: 'lab-b', op: 'migrate' });
    expect(decideAdmission(m, ctx({ runningOn: running, jobs: [job()] }))).toMatchObject({ allow: true, rule: 'migration-destination' });
    // a bare virsh migrate: no job at all
    const bare = decideAdmission(m, ctx({ runningOn: running }));
    expect(bare).toMatchObject({ allow: false, rule: 'unauthorized-migration' });
    expect(bare.reason).toContain('no authorized migration job moves it to lab-b');
    // a job to another destination
    expect(decideAdmission(m, ctx({ runningOn: running, jobs: [job({ destination: 'lab-c' })] })).allow).toBe(false);
    // the right destination but the VM runs somewhere else than the job's source
    const wrongSource = decideAdmission(m, ctx({ runningOn: [{ host: 'lab-c', up: true }], jobs: [job()] }));
    expect(wrongSource).toMatchObject({ allow: false, rule: 'unauthorized-migration' });
    expect(wrongSource.reason).toContain('J-1 from lab-a, but it runs on lab-c');
    // the job's authorization not yet given
    expect(
      decideAdmission(m, ctx({ runningOn: running, jobs: [job({ state: 'awaiting-authorization', authorizedBy: undefined })] })).allow,
    ).toBe(false);
  });

  it('refuses a UUID already running on another host (the clone never boots), a down host counting as last scanned', () => {
    const v = decideAdmission(req(), ctx({ runningOn: [{ host: 'lab-b', up: true }] }));
    expect(v).toMatchObject({ allow: false, rule: 'running-elsewhere' });
    expect(v.reason).toContain('already running on lab-b');
    const down = decideAdmission(req(), ctx({ runningOn: [{ host: 'lab-c', up: false }] }));
    expect(down.reason).toContain('lab-c (down; as last scanned)');
    // running on the asking host itself (a restart racing the scan) is not elsewhere
    expect(decideAdmission(req(), ctx({ runningOn: [{ host: 'lab-a', up: true }] })).allow).toBe(true);
  });

  it("lets the destination's prepare through while the authorized job's source still runs it", () => {
    const v = decideAdmission(req({ host: 'lab-b' }), ctx({ runningOn: [{ host: 'lab-a', up: true }], jobs: [job()] }));
    expect(v).toMatchObject({ allow: true, rule: 'migration-destination' });
    // but not when a third copy runs elsewhere
    const third = ctx({
      runningOn: [
        { host: 'lab-a', up: true },
        { host: 'lab-c', up: true },
      ],
      jobs: [job()],
    });
    expect(decideAdmission(req({ host: 'lab-b' }), third).allow).toBe(false);
  });

  it('turns an unknown identity into a registration request, with the admin-facing sentence', () => {
    const v = decideAdmission(req(), ctx({ registration: undefined }));
    expect(v).toMatchObject({ allow: false, rule: 'unknown-identity', requestRegistration: true });
    expect(v.reason).toContain("lab-a's admin tried to start build-07");
    expect(v.reason).toContain('retry after approve');
    expect(decideAdmission(req({ op: 'migrate' }), ctx({ registration: undefined })).reason).toContain('tried to migrate in');
  });

  it('refuses pending, rejected and revoked identities, with the reason given', () => {
    expect(decideAdmission(req(), ctx({ registration: reg({ state: 'pending' }) }))).toMatchObject({ allow: false, rule: 'pending' });
    const rej = decideAdmission(req(), ctx({ registration: reg({ state: 'rejected', reason: 'not ours' }) }));
    expect(rej).toMatchObject({ allow: false, rule: 'rejected' });
    expect(rej.reason).toContain('registration rejected (not ours)');
    expect(decideAdmission(req(), ctx({ registration: reg({ state: 'revoked' }) }))).toMatchObject({ allow: false, rule: 'revoked' });
  });

  it('lets a host key ask only for its own host, and only for hosts in the config', () => {
    expect(decideAdmission(req(), ctx({ askedBy: 'host-lab-a' })).allow).toBe(true);
    const other = decideAdmission(req(), ctx({ askedBy: 'host-lab-b' }));
    expect(other).toMatchObject({ allow: false, rule: 'wrong-host' });
    expect(decideAdmission(req({ host: 'lab-z' }), ctx())).toMatchObject({ allow: false, rule: 'unknown-host' });
  });

  it('restore follows the start rules', () => {
    expect(decideAdmission(req({ op: 'restore' }), ctx()).allow).toBe(true);
    expect(decideAdmission(req({ op: 'restore', host: 'lab-b' }), ctx()).allow).toBe(false);
  });

  it('audit answers yes but keeps what enforce would refuse; off answers yes and opens no request', () => {
    const audit = decideAdmission(req(), ctx({ policy: 'audit', registration: undefined }));
    expect(audit).toMatchObject({ allow: true, wouldAllow: false, rule: 'unknown-identity', requestRegistration: true });
    expect(audit.reason).toContain('policy audit: allowed anyway');
    const off = decideAdmission(req({ host: 'lab-b' }), ctx({ policy: 'off' }));
    expect(off).toMatchObject({ allow: true, wouldAllow: false, rule: 'not-home', requestRegistration: false });
    expect(decideAdmission(req(), ctx({ policy: 'off', registration: undefined })).requestRegistration).toBe(false);
  });
});
