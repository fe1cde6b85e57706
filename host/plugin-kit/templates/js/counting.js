// Pure logic of `__NAME__` (no host imports: `node --test` runs it natively).

/** Lines, words (at least `minWordLength` characters) and UTF-8 bytes of `text`. */
export function count(text, minWordLength = 1) {
  const lines = text.length === 0 ? 0 : text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
  const words = text.split(/\s+/).filter((word) => word.length > 0 && [...word].length >= minWordLength).length;
  return { lines, words, bytes: new TextEncoder().encode(text).length };
}
