// quoteArg builds the words of the grammar lines the TUI runs; tokenize (the console's own reader) must get back
// exactly what the operator typed, whatever quotes or backslashes it holds.
import { describe, expect, it } from 'vitest';
import { tokenize } from '../../src/console/grammar.js';
import { quoteArg } from '../../src/tui/actions/vm-ref.js';

describe('quoteArg', () => {
  it('round-trips through tokenize as one word', () => {
    for (const typed of ["don't", 'a\\b', 'say "no"', 'two words', 'it\'s a "test" \\ ok', 'plain', 'lab-a']) {
      expect(tokenize(`reject x --reason ${quoteArg(typed)}`)).toEqual(['reject', 'x', '--reason', typed]);
    }
  });
  it('leaves plain words bare, quotes an empty value, and turns line breaks into spaces', () => {
    expect(quoteArg('lab-a')).toBe('lab-a');
    expect(quoteArg('')).toBe('""');
    expect(tokenize(`deny j1 --reason ${quoteArg('first\nsecond')}`)).toEqual(['deny', 'j1', '--reason', 'first second']);
  });
});
