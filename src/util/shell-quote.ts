/**
 * Quotes a word for a POSIX shell the way libvirt prints command lines (domxml-to-native, the
 * `.args` golden files, logs): words without shell-special characters stay bare (so `=` and `,`
 * need no quoting); anything else is single-quoted, with `'` written as `'\''`. Only for
 * display: tvirt never runs a shell.
 */
const shellSpecial = /[\s'"\\$`&|;<>()[\]{}*?~#!^]/;

export function shellQuote(word: string): string {
  if (word !== "" && !shellSpecial.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

export function shellJoin(words: readonly string[]): string {
  return words.map(shellQuote).join(" ");
}
