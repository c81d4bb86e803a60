import { execFile, spawn } from 'node:child_process';
import { childEnv } from '../../model/child-env.js';
import { MAX_OUTPUT_BYTES, VIRSH } from '../defaults.js';
import { hostError, timeoutError, virshFailure } from '../errors.js';
import { HANG_MARK, hungMigrateError, migrateWatchScript } from '../virsh/migrate-guard.js';

// The local `virsh -c URI …` for what the native binding lacks (migration, job stats, link state,
// interface addresses). Real libvirt, one process per call, always with a timeout.

export interface LocalVirshOptions {
  host: string;
  uri: string;
  virshPath?: string;
  timeoutMs: number;
  signal?: AbortSignal;
  maxBytes?: number;
  /** the command migrates this domain: watch virsh for its hang (virsh/migrate-guard.ts) and kill it */
  guardMigrateOf?: string;
}

export function runLocalVirsh(args: string[], o: LocalVirshOptions): Promise<string> {
  const verb = args[0]?.split(' ')[0] ?? 'virsh';
  const bin = o.virshPath ?? VIRSH;
  return new Promise((resolve, reject) => {
    let aborted = false;
    let hung = false;
    let stopGuard = () => {};
    const child = execFile(
      bin,
      ['-q', '-c', o.uri, ...args],
      {
        timeout: o.timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: o.maxBytes ?? MAX_OUTPUT_BYTES,
        env: childEnv({ LC_ALL: 'C' }),
        encoding: 'utf8',
      },
      (err, stdout, stderr) => {
        o.signal?.removeEventListener('abort', onAbort);
        stopGuard();
        if (hung) return reject(hungMigrateError(o.host));
        if (!err) return resolve(stdout);
        const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: string | number; signal?: string };
        if (aborted) return reject(hostError('HOST_ERROR', o.host, `virsh ${verb} aborted`));
        if (e.code === 'ENOENT') return reject(hostError('HOST_ERROR', o.host, `virsh not found (${bin}): install libvirt-clients`));
        if (e.killed && e.signal) return reject(timeoutError(o.host, `virsh ${verb}`, o.timeoutMs));
        if (e.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER')
          return reject(hostError('HOST_ERROR', o.host, `virsh ${verb} output too large`));
        reject(virshFailure(o.host, verb, typeof e.code === 'number' ? e.code : null, stderr || e.message));
      },
    );
    const onAbort = () => {
      aborted = true;
      child.kill('SIGINT'); // virsh migrate aborts the job on SIGINT
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    };
    if (o.signal?.aborted) onAbort();
    else o.signal?.addEventListener('abort', onAbort, { once: true });
    if (o.guardMigrateOf !== undefined && child.pid !== undefined) {
      stopGuard = watchLocalMigrate(child.pid, { virsh: bin, uri: o.uri, uuid: o.guardMigrateOf }, () => {
        hung = true;
        child.kill('SIGKILL');
      });
    }
  });
}

/** Run the guard's watch beside a local virsh migrate; `onHung` once it finds virsh hung. Returns a stopper. */
function watchLocalMigrate(pid: number, t: { virsh: string; uri: string; uuid: string }, onHung: () => void): () => void {
  const w = spawn('sh', ['-c', migrateWatchScript(String(pid), t)], { stdio: ['ignore', 'pipe', 'ignore'], env: childEnv() });
  let out = '';
  w.stdout.setEncoding('utf8');
  w.stdout.on('data', (d: string) => {
    out = (out + d).slice(-256);
    if (out.includes(HANG_MARK)) onHung();
  });
  w.on('error', () => undefined); // no sh: no guard, the migration's own timeout still holds
  return () => {
    if (w.exitCode === null) w.kill('SIGKILL');
  };
}
