// Deadlines files each identity under the second it must be looked at again. An identity that moves is not taken
// out of its old bucket (buckets are lists, appended to): these check that a bucket coming due still yields exactly
// the identities filed there now, each once.
import { expect, it } from 'vitest';
import { Deadlines } from '../../src/billboard/deadlines.js';

const S = 1_000_000; // a second, in ms, far from 0

it('yields an identity once, from the bucket it is filed in now', () => {
  const d = new Deadlines();
  d.set('a', S + 100);
  d.set('b', S + 200);
  d.set('a', S + 5_100); // a beacon moved a's deadline on
  expect(d.takeDue(S + 1_000)).toEqual(['b']);
  expect(d.takeDue(S + 4_000)).toEqual([]);
  expect(d.takeDue(S + 6_000)).toEqual(['a']);
  expect(d.takeDue(S + 60_000)).toEqual([]);
});

it('an identity that moves away and back is yielded once', () => {
  const d = new Deadlines();
  d.set('a', S + 100);
  d.set('a', S + 3_100);
  d.set('a', S + 100);
  expect(d.takeDue(S + 10_000)).toEqual(['a']);
});

it('deleted or cleared identities are not yielded; filed again, they are', () => {
  const d = new Deadlines();
  d.set('a', S + 100);
  d.set('b', S + 100);
  d.set('c', S + 100);
  d.delete('a');
  d.set('b', undefined);
  expect(d.takeDue(S + 1_000)).toEqual(['c']);
  d.set('a', S + 2_100);
  expect(d.takeDue(S + 3_000)).toEqual(['a']);
});

it('a taken identity is off the schedule until filed again, even under the same second', () => {
  const d = new Deadlines();
  d.set('a', S + 100);
  expect(d.takeDue(S + 1_000)).toEqual(['a']);
  expect(d.takeDue(S + 1_000)).toEqual([]);
  d.set('a', S + 100);
  expect(d.takeDue(S + 1_000)).toEqual(['a']);
});
