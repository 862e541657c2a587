/**
 * Go's filepath.Glob and filepath.Match (Unix), which Prometheus and Thanos expand `--rule-file` and
 * `rule_files` with, and which Thanos Receive matches tenants to hashrings with (`tenant_matcher_type:
 * glob`). A pattern's path segments match names in a directory:
 *
 *   *         any sequence of characters but `/` (dot files included)
 *   ?         any one character but `/`
 *   [a-z0-9]  one character of the class; [^…] one not in it; `]` and `-` only escaped (`\]`)
 *   \c        the character c
 *
 * A malformed pattern is an error; a pattern that matches nothing is not, and neither are unreadable
 * directories: they just match nothing.
 */
import { lstat, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

export class BadPatternError extends Error {
  constructor() {
    super('syntax error in pattern');
    this.name = 'BadPatternError';
  }
}

/** The paths that match `pattern`, sorted by name within each directory; throws BadPatternError. */
export async function glob(pattern: string): Promise<string[]> {
  // Go checks the whole pattern up front, so that a bad one fails even where nothing exists.
  compilePattern(pattern);
  if (!hasMeta(pattern)) {
    return (await exists(pattern)) ? [pattern] : [];
  }
  const slash = pattern.lastIndexOf('/');
  const file = pattern.slice(slash + 1);
  // Go's cleanGlobPath: no directory is `.`, the root stays `/`, else drop the trailing slash.
  const dir = slash < 0 ? '.' : slash === 0 ? '/' : pattern.slice(0, slash);
  const dirs = hasMeta(dir) ? await glob(dir) : [dir];
  const out: string[] = [];
  for (const d of dirs) out.push(...(await globIn(d, file)));
  return out;
}

/** Whether `name` matches all of `pattern`; throws BadPatternError. */
export function matchPattern(pattern: string, name: string): boolean {
  return compilePattern(pattern).test(name);
}

function hasMeta(path: string): boolean {
  return /[*?[\\]/.test(path);
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** The names in `dir` that match `pattern`, joined to it (and cleaned, as Go's filepath.Join). */
async function globIn(dir: string, pattern: string): Promise<string[]> {
  let names: string[];
  try {
    if (!(await stat(dir)).isDirectory()) return [];
    names = await readdir(dir);
  } catch {
    return [];
  }
  const re = compilePattern(pattern);
  // Go sorts names byte-wise (UTF-8).
  return names
    .filter((n) => re.test(n))
    .sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')))
    .map((n) => join(dir, n));
}

/** The pattern as an anchored regular expression, checked as strictly as Go's Match checks it. */
function compilePattern(pattern: string): RegExp {
  const chars = [...pattern];
  let re = '';
  let i = 0;
  /** One character of a class, maybe escaped; Go refuses a bare `-` or `]`, and a class left open. */
  const classChar = (): number => {
    let c = chars[i];
    if (c === undefined || c === '-' || c === ']') throw new BadPatternError();
    if (c === '\\') c = chars[++i];
    if (c === undefined) throw new BadPatternError();
    i++;
    if (i >= chars.length) throw new BadPatternError();
    return c.codePointAt(0) as number;
  };
  while (i < chars.length) {
    const c = chars[i++] as string;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\') {
      const next = chars[i++];
      if (next === undefined) throw new BadPatternError();
      re += literal(next);
    } else if (c === '[') {
      const negated = chars[i] === '^';
      if (negated) i++;
      let ranges = '';
      let n = 0;
      while (!(chars[i] === ']' && n > 0)) {
        const lo = classChar();
        const hi = chars[i] === '-' ? (i++, classChar()) : lo;
        // An inverted range matches nothing in Go; JavaScript would refuse it.
        if (lo <= hi) ranges += `\\u{${lo.toString(16)}}-\\u{${hi.toString(16)}}`;
        n++;
      }
      i++;
      re += `[${negated ? '^' : ''}${ranges}]`;
    } else re += literal(c);
  }
  return new RegExp(`^${re}$`, 'u');
}

function literal(c: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(c) ? `\\${c}` : c;
}
