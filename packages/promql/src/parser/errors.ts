/** A query that does not parse or type-check; the message reads as Prometheus' `1:5: parse error: …`. */
export class ParseError extends Error {
  readonly position: number;
  readonly reason: string;

  constructor(input: string, position: number, reason: string) {
    super(`${lineCol(input, position)}: parse error: ${reason}`);
    this.name = 'ParseError';
    this.position = position;
    this.reason = reason;
  }
}

/** A query that uses a feature this engine does not implement (reported apart from wrong queries). */
export class UnsupportedError extends Error {
  constructor(feature: string) {
    super(`not supported: ${feature}`);
    this.name = 'UnsupportedError';
  }
}

/** `line:column`, both 1-based, of a character offset. */
function lineCol(input: string, pos: number): string {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < pos && i < input.length; i++) {
    if (input.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return `${line}:${pos - lineStart + 1}`;
}
