// Tests of `__NAME__`'s logic: `node --test` (or `weft plugin test`, which also runs the component).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { count } from './counting.js';

test('counts lines, words and bytes', () => {
  assert.deepEqual(count('a bb\nccc\n'), { lines: 2, words: 3, bytes: 9 });
  assert.equal(count('a bb ccc', 2).words, 2);
  assert.deepEqual(count(''), { lines: 0, words: 0, bytes: 0 });
});
