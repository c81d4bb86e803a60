import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

// The lint tier holds the team's lines: these probes are what it must refuse (a rule that silently stopped
// applying would let the tree drift).

const eslint = new ESLint({ cwd: new URL('../..', import.meta.url).pathname });

async function rules(filePath: string, text: string): Promise<string[]> {
  const [r] = await eslint.lintText(text, { filePath });
  return r!.messages.map((m) => m.ruleId ?? m.message);
}

describe('lint rules', () => {
  it('refuses an upward import (model importing store), and src importing test code', async () => {
    expect(await rules('src/model/probe.ts', "import type { StoreApi } from '../store/api.js';\nexport type X = StoreApi;\n")).toContain(
      'no-restricted-imports',
    );
    expect(await rules('src/hosts/probe.ts', "import { x } from '../../test/support/x.js';\nexport const y = x;\n")).toContain(
      'no-restricted-imports',
    );
    expect(await rules('src/console/probe.ts', "import type { StoreApi } from '../store/api.js';\nexport type X = StoreApi;\n")).toEqual(
      [],
    );
  });

  it('refuses a file over 500 lines, a function over 80 lines and a line over 140 columns', async () => {
    expect(await rules('src/model/probe.ts', 'export const a = 1;\n'.repeat(501))).toContain('max-lines');
    const long = `export function f(): number {\n${'  let x = 1;\n'.repeat(80)}  return 1;\n}\n`;
    expect(await rules('src/model/probe.ts', long)).toContain('max-lines-per-function');
    expect(await rules('src/model/probe.ts', `export const s = '${'x'.repeat(140)}';\n`)).toContain('max-len');
  });

  it('refuses a disable comment without a reason on its line', async () => {
    const text = '// eslint-disable-next-line @typescript-eslint/no-explicit-any\nexport const a: any = 1;\n';
    expect(await rules('src/model/probe.ts', text)).toContain('@eslint-community/eslint-comments/require-description');
    const said = '// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a probe\nexport const a: any = 1;\n';
    expect(await rules('src/model/probe.ts', said)).toEqual([]);
  });
});
