/**
 * Quotes a word for a POSIX shell the way libvirt prints command lines (domxml-to-native,
 * logs): words of plain characters stay bare; anything else is single-quoted, with `'` written
 * as `'\''`. Only for display: tvirt never runs a shell.
 */
const plain = /^[A-Za-z0-9_@%+=:,./-]+$/;

export function shellQuote(word: string): string {
  if (plain.test(word)) return word;
  return `'${word.replace(/'/g, "'\\''")}'`;
}

export function shellJoin(words: readonly string[]): string {
  return words.map(shellQuote).join(" ");
}
