import { BillboardError } from '../model/errors.js';
import type { ResolvedConfig } from '../model/config.js';
import type { Runtime } from '../console/runtime.js';

export interface DemoOptions {
  readOnly: boolean;
  actor: string;
  body: (rt: Runtime) => Promise<number>;
  withRuntime: (
    opts: { readOnly?: boolean; actor?: string },
    mode: 'script' | 'tui',
    body: (rt: Runtime) => Promise<number>,
    config?: ResolvedConfig,
  ) => Promise<number>;
}

export async function runDemo(_opts: DemoOptions): Promise<number> {
  throw new BillboardError('NOT_AVAILABLE', 'the demo lab is not built yet');
}
