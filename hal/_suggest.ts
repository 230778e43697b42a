/**
 * "Did you mean …?": the closest of a few known words to a mistyped one,
 * for manifest keys, CLI commands and CLI options alike.
 *
 * @module
 */

/** The edit distance of two short strings. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}

/**
 * The known word closest to `word` (case-insensitive), when one is within
 * two edits of it (a transposition counts as two), or `undefined`.
 *
 * @param word What was written.
 * @param known What it could have meant.
 * @returns The closest known word, or `undefined`.
 */
export function closest(word: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const d = distance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}
