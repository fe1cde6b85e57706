// Weft step `__NAME__` (JavaScript): counts the lines, words and bytes of a text.
import * as w from './weft-step.js';
import { count } from './counting.js';

export const step = w.guest({
  describe() {
    return {
      name: '__NAME__',
      version: '0.1.0',
      description: 'Counts the lines, words and bytes of a text.',
      inputs: [w.port('text', 'text/*', 'The text to count')],
      outputs: [w.port('counts', 'application/json', '{lines, words, bytes}')],
      params: [w.param('min_word_length', 'int', 1, 'Shortest run of non-space characters counted as a word')],
    };
  },

  run(params) {
    const p = new w.Params(params);
    const counts = count(w.readText('text'), p.int('min_word_length'));
    w.metric('lines', counts.lines);
    w.metric('words', counts.words);
    w.writeJson('counts', counts);
  },
});
