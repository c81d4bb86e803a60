import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { childEnv, isConsoleVariable } from '../../src/model/child-env.js';

// No child process inherits the store passphrase: childEnv() drops every BILLBOARD_* variable, and every call
// that starts a process in src/ passes `env: childEnv(…)` (a new spawn without it fails here, by name and line).

const SRC = join(import.meta.dirname, '..', '..', 'src');
const STARTERS = new Set(['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork']);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : /\.tsx?$/.test(e.name) ? [join(dir, e.name)] : [],
  );
}

/** calls of child_process functions in a file, and whether each passes env: childEnv(…) */
function childCalls(file: string): { where: string; scrubbed: boolean }[] {
  const sf = ts.createSourceFile(
    file,
    readFileSync(file, 'utf8'),
    ts.ScriptTarget.Latest,
    true,
    file.endsWith('x') ? ts.ScriptKind.TSX : ts.ScriptKind.TS,
  );
  const local = new Map<string, string>(); // local name → child_process export ('*' for a namespace)
  for (const st of sf.statements) {
    if (!ts.isImportDeclaration(st) || !ts.isStringLiteral(st.moduleSpecifier)) continue;
    if (!/^(node:)?child_process$/.test(st.moduleSpecifier.text)) continue;
    const b = st.importClause?.namedBindings;
    if (b && ts.isNamedImports(b)) for (const el of b.elements) local.set(el.name.text, (el.propertyName ?? el.name).text);
    if (b && ts.isNamespaceImport(b)) local.set(b.name.text, '*');
    if (st.importClause?.name) local.set(st.importClause.name.text, '*');
  }
  const out: { where: string; scrubbed: boolean }[] = [];
  const visit = (n: ts.Node) => {
    if (ts.isCallExpression(n)) {
      const c = n.expression;
      const fn = ts.isIdentifier(c)
        ? local.get(c.text)
        : ts.isPropertyAccessExpression(c) && ts.isIdentifier(c.expression) && local.get(c.expression.text) === '*'
          ? c.name.text
          : undefined;
      if (fn && STARTERS.has(fn)) {
        const opts = n.arguments.find(ts.isObjectLiteralExpression);
        const env = opts?.properties.find((p) => ts.isPropertyAssignment(p) && p.name.getText(sf) === 'env') as
          ts.PropertyAssignment | undefined;
        const scrubbed = !!env && ts.isCallExpression(env.initializer) && env.initializer.expression.getText(sf) === 'childEnv';
        const line = sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1;
        out.push({ where: `${relative(SRC, file)}:${line} ${fn}`, scrubbed });
      }
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

describe('child process environment', () => {
  it('childEnv drops every BILLBOARD_* variable and keeps the rest', () => {
    const env = childEnv(
      { LC_ALL: 'C', BILLBOARD_X: 'no' },
      { PATH: '/bin', BILLBOARD_PASSPHRASE: 's', billboard_token: 't', HOME: '/root' },
    );
    expect(env).toEqual({ PATH: '/bin', HOME: '/root', LC_ALL: 'C' });
    expect(isConsoleVariable('BILLBOARD_PASSPHRASE')).toBe(true);
    expect(isConsoleVariable('XBILLBOARD_')).toBe(false);
  });

  it('every spawn/execFile/exec/fork in src/ passes env: childEnv(…)', () => {
    const calls = sources(SRC).flatMap(childCalls);
    expect(calls.length).toBeGreaterThanOrEqual(3); // local virsh, the migrate guard's sh, the demo's agents
    expect(calls.filter((c) => !c.scrubbed).map((c) => c.where)).toEqual([]);
  });
});
