// Lint holds the lines the team agreed on: the data flow's layers (nothing imports upward; src never imports test),
// file and function size, line length, and no silenced rule without a reason on the same line.
import js from '@eslint/js';
import comments from '@eslint-community/eslint-plugin-eslint-comments/configs';
import tseslint from 'typescript-eslint';

/**
 * The layers of DESIGN.md, bottom first: a folder may import its own layer's files and the layers below it,
 * never above. demo/ sits on top (the entry hands it to the CLI).
 */
const LAYERS = [
  ['model'],
  ['beacon', 'hosts', 'store', 'alerts'],
  ['billboard', 'migration'],
  ['console'],
  ['serve', 'tui'],
  ['cli'],
  ['demo'],
];
const ALL = LAYERS.flat();

/** no-restricted-imports for the files of `dir`: every folder above its layer, and test code */
function layerRule(dir) {
  const level = LAYERS.findIndex((l) => l.includes(dir));
  const above = LAYERS.slice(level + 1).flat();
  const sideways = LAYERS[level].filter((d) => d !== dir && !(dir === 'migration' && d === 'billboard'));
  const banned = [...above, ...sideways];
  return {
    files: [`src/${dir}/**/*.ts`, `src/${dir}/**/*.tsx`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            ...banned.map((d) => ({
              group: [`../${d}/*`, `../../${d}/*`, `../../../${d}/*`, `../${d}/**`, `../../${d}/**`, `../../../${d}/**`],
              message: `src/${dir} is below src/${d} in the data flow (DESIGN.md): it must not import upward or sideways.`,
            })),
            { group: ['**/test/**', '**/bench/**'], message: 'src/ never imports test or bench code.' },
          ],
        },
      ],
    },
  };
}

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'test/lab/*.mjs', 'test/lab/*.d.mts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  comments.recommended,
  {
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: {
        process: 'readonly',
        Buffer: 'readonly',
        console: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        URL: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
        AbortController: 'readonly',
        structuredClone: 'readonly',
        queueMicrotask: 'readonly',
        performance: 'readonly',
        fetch: 'readonly',
        Response: 'readonly',
        Request: 'readonly',
        Headers: 'readonly',
      },
    },
    rules: {
      '@eslint-community/eslint-comments/require-description': ['error', { ignore: [] }],
      '@eslint-community/eslint-comments/no-unused-disable': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      'no-control-regex': 'off', // escaping control characters is this tool's job: its regexes name them on purpose
    },
  },
  {
    files: ['src/**/*.ts', 'src/**/*.tsx'],
    rules: {
      'max-lines': ['error', { max: 500, skipBlankLines: false, skipComments: false }],
      'max-lines-per-function': ['error', { max: 80, skipBlankLines: false, skipComments: false, IIFEs: true }],
      'max-len': ['error', { code: 140, ignoreUrls: true, ignoreRegExpLiterals: true }],
    },
  },
  ...ALL.map(layerRule),
  {
    // tests and benches: fakes and probes may be long; they still keep lines readable and silence nothing silently
    files: ['test/**/*.ts', 'test/**/*.tsx', 'bench/**/*.mjs', 'test/**/*.mjs'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      'max-len': ['error', { code: 160, ignoreUrls: true, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true }],
    },
  },
);
