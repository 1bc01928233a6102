// Plain-text helpers shared by the CLI's outputs (the lab table, explain) and the docs table.

/** Bytes for people: "64 KiB" for whole KiB, "12,345 B" with separators from 10,000 on, else "100 B". */
export function formatBytes(n: number): string {
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return n >= 10_000 ? `${n.toLocaleString('en-US')} B` : `${n} B`;
}

/** Sizes of an upload: MiB with two decimals from 1 MiB on, else as formatBytes. */
export function formatSize(n: number): string {
  return n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(2)} MiB` : formatBytes(n);
}

/**
 * Greedy word wrap to `width` columns; a word longer than the width is cut. Paragraphs
 * (separated by '\n') are wrapped one by one.
 */
export function wrapWords(text: string, width: number): string[] {
  const lines: string[] = [];
  for (const paragraph of text.split('\n')) {
    let line = '';
    for (let word of paragraph.split(' ')) {
      while (word.length > width) {
        if (line) { lines.push(line); line = ''; }
        lines.push(word.slice(0, width));
        word = word.slice(width);
      }
      if (!line) line = word;
      else if (line.length + 1 + word.length <= width) line += ` ${word}`;
      else { lines.push(line); line = word; }
    }
    lines.push(line);
  }
  return lines;
}
