import type { Logger } from 'pino';
import type { ResolvedConfig } from '../model/config.js';
import type { StoreApi } from '../store/api.js';
import { openStore } from '../store/store.js';
import { requireKeySource } from '../store/key-source.js';
import { Console } from './console.js';
import type { ConsoleContext } from './context.js';

export interface RuntimeOptions {
  config: ResolvedConfig;
  actor: string;
  readOnly: boolean;
  mode: 'script' | 'tui';
  log: Logger;
  env?: NodeJS.ProcessEnv;
  /** create the store when it is missing (script/tui); init uses createStore instead */
  createStore?: boolean;
  onStoreCreated?: (path: string) => void;
}

export interface Runtime {
  ctx: ConsoleContext;
  console: Console;
  close(): Promise<void>;
}

/**
 * Start everything a session runs in-process: the store (one writer), and — as they exist — the beacon
 * listener, the host scanner, the engine and the migration manager, wired together.
 */
export async function startRuntime(opts: RuntimeOptions): Promise<Runtime> {
  const env = opts.env ?? process.env;
  const key = requireKeySource(env, opts.config.store.keyFile);
  let created = false;
  const store: StoreApi = await openStore(opts.config.storePath, key, {
    create: opts.createStore ?? true,
  }).then((s) => s);
  void created;
  const ctx: ConsoleContext = {
    actor: opts.actor,
    readOnly: opts.readOnly,
    mode: opts.mode,
    config: opts.config,
    store,
    log: opts.log,
    now: Date.now,
  };
  const console = new Console(ctx);
  return {
    ctx,
    console,
    async close() {
      console.dispose();
      await store.close();
    },
  };
}
