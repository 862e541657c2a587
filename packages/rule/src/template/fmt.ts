/**
 * Go's fmt for template values: Sprintf (printf), Sprint (print), Sprintln (println) and how an action
 * prints its value. Verbs %v %s %d %f %F %e %E %g %G %q %x %X %t %c %U %T %% with the flags `+ - # 0 space`,
 * a width and a precision (also `*`); mistakes print as Go prints them: `%!d(string=foo)`, `%!d(MISSING)`,
 * `%!(EXTRA string=x)`, `%!(NOVERB)`, `%!(BADWIDTH)`, `%!(BADPREC)`.
 * Not done: explicit argument indexes (`%[1]d`), %b/%x/%X of floats, `#` with floats, and pointer
 * addresses (funcs print as `<func>`, nested struct pointers as `&{…}`).
 */
import { canBackquote, formatFloat, quote } from './strconv.js';
import { timeString } from './time.js';
import { GoHTML, GoMap, GoSlice, GoStruct, GoTime, goTypeName, type Value } from './values.js';

interface Flags {
  plus: boolean;
  minus: boolean;
  sharp: boolean;
  space: boolean;
  zero: boolean;
  /** %+v and %#v: the flag belongs to the verb, not to numbers. */
  plusV: boolean;
  sharpV: boolean;
  wid: number | undefined;
  prec: number | undefined;
}

const noFlags = (): Flags => ({ plus: false, minus: false, sharp: false, space: false, zero: false, plusV: false, sharpV: false, wid: undefined, prec: undefined });

/** fmt's pp: the output and the flags of the verb being printed. */
class Printer {
  out = '';
  f: Flags = noFlags();

  private writePadding(n: number): void {
    if (n > 0) this.out += (this.f.zero ? '0' : ' ').repeat(n);
  }

  /** Pads to the width (in runes), on the left unless `-`. */
  pad(s: string): void {
    const width = this.f.wid === undefined ? 0 : this.f.wid - [...s].length;
    if (this.f.minus) {
      this.out += s;
      this.writePadding(width);
    } else {
      this.writePadding(width);
      this.out += s;
    }
  }

  printArg(arg: Value, verb: string, depth = 0): void {
    if (arg === null || arg === undefined) {
      if (verb === 'T' || verb === 'v') this.pad('<nil>');
      else this.badVerb(verb, arg);
      return;
    }
    if (verb === 'T') {
      this.fmtS(goTypeName(arg));
      return;
    }
    if (typeof arg === 'boolean') {
      if (verb === 't' || verb === 'v') this.pad(String(arg));
      else this.badVerb(verb, arg);
    } else if (typeof arg === 'number') this.fmtFloat(arg, verb);
    else if (typeof arg === 'bigint') this.fmtInteger(arg, verb);
    else if (typeof arg === 'string' || arg instanceof GoHTML) this.fmtString(typeof arg === 'string' ? arg : arg.value, verb, arg);
    else if (arg instanceof GoTime) {
      // A Stringer: the verbs that take strings print String().
      if ('vsxXq'.includes(verb)) this.fmtString(timeString(arg.ms), verb, arg);
      else this.badVerb(verb, arg);
    } else if (arg instanceof GoMap) {
      this.out += 'map[';
      arg.sortedKeys().forEach((k, i) => {
        if (i > 0) this.out += ' ';
        this.printArg(k, verb, depth + 1);
        this.out += ':';
        this.printArg(arg.entries.get(k), verb, depth + 1);
      });
      this.out += ']';
    } else if (Array.isArray(arg) || arg instanceof GoSlice) {
      const items = Array.isArray(arg) ? (arg as readonly Value[]) : (arg as GoSlice).items;
      this.out += '[';
      items.forEach((item, i) => {
        if (i > 0) this.out += ' ';
        this.printArg(item, verb, depth + 1);
      });
      this.out += ']';
    } else if (arg instanceof GoStruct) {
      // Go prints a pointer to a struct as &{…} (at the top; deeper it prints the address, which has no equivalent here).
      if (arg.pointer) this.out += '&';
      this.out += '{';
      [...arg.fields].forEach(([name, v], i) => {
        if (i > 0) this.out += ' ';
        if (this.f.plusV) this.out += `${name}:`;
        this.printArg(v, verb, depth + 1);
      });
      this.out += '}';
    } else {
      // A func: Go prints its address, which has no equivalent here.
      this.pad('<func>');
    }
  }

  /** `%!verb(type=value)`, the value printed with %v and the verb's flags. */
  private badVerb(verb: string, arg: Value): void {
    this.out += `%!${verb}(`;
    if (arg === null || arg === undefined) this.out += '<nil>';
    else {
      this.out += `${goTypeName(arg)}=`;
      this.printArg(arg, 'v');
    }
    this.out += ')';
  }

  private fmtFloat(v: number, verb: string): void {
    let prec: number;
    let conv: 'e' | 'E' | 'f' | 'g' | 'G';
    switch (verb) {
      case 'v':
      case 'g':
        [conv, prec] = ['g', -1];
        break;
      case 'G':
        [conv, prec] = ['G', -1];
        break;
      case 'e':
      case 'E':
        [conv, prec] = [verb, 6];
        break;
      case 'f':
      case 'F':
        [conv, prec] = ['f', 6];
        break;
      default:
        this.badVerb(verb, v);
        return;
    }
    if (this.f.prec !== undefined) prec = this.f.prec;
    let num = formatFloat(v, conv, prec);
    if (num[0] !== '-' && num[0] !== '+') num = `+${num}`;
    // The space flag puts a space where a + sign would be, unless + is asked for.
    if (this.f.space && num[0] === '+' && !this.f.plus) num = ` ${num.slice(1)}`;
    if (num[1] === 'I' || num[1] === 'N') {
      // Infinities and NaN are not padded with zeros; NaN shows a sign only when asked.
      const zero = this.f.zero;
      this.f.zero = false;
      if (num[1] === 'N' && !this.f.space && !this.f.plus) num = num.slice(1);
      this.pad(num);
      this.f.zero = zero;
      return;
    }
    if (this.f.plus || num[0] !== '+') {
      // Zero padding goes between the sign and the digits.
      if (this.f.zero && this.f.wid !== undefined && this.f.wid > num.length) {
        this.out += num[0];
        this.writePadding(this.f.wid - num.length);
        this.out += num.slice(1);
        return;
      }
      this.pad(num);
      return;
    }
    this.pad(num.slice(1));
  }

  private fmtInteger(v: bigint, verb: string): void {
    switch (verb) {
      case 'v':
      case 'd':
        return this.fmtIntegerBase(v, 10, verb, false);
      case 'b':
        return this.fmtIntegerBase(v, 2, verb, false);
      case 'o':
      case 'O':
        return this.fmtIntegerBase(v, 8, verb, false);
      case 'x':
        return this.fmtIntegerBase(v, 16, verb, false);
      case 'X':
        return this.fmtIntegerBase(v, 16, verb, true);
      case 'c':
        return this.pad(runeOf(v));
      case 'q':
        return this.pad(quote(runeOf(v), this.f.plus, "'"));
      case 'U': {
        const hex = `U+${(v < 0n ? -v : v).toString(16).toUpperCase().padStart(Math.max(4, this.f.prec ?? 0), '0')}`;
        return this.pad(this.f.sharp ? `${hex} '${runeOf(v)}'` : hex);
      }
      default:
        this.badVerb(verb, v);
    }
  }

  private fmtIntegerBase(v: bigint, base: number, verb: string, upper: boolean): void {
    const negative = v < 0n;
    const u = negative ? -v : v;
    let prec = 0;
    if (this.f.prec !== undefined) {
      prec = this.f.prec;
      // Precision 0 and value 0 print nothing but padding.
      if (prec === 0 && u === 0n) {
        const zero = this.f.zero;
        this.f.zero = false;
        this.writePadding(this.f.wid ?? 0);
        this.f.zero = zero;
        return;
      }
    } else if (this.f.zero && this.f.wid !== undefined) {
      prec = this.f.wid;
      if (negative || this.f.plus || this.f.space) prec--; // room for the sign
    }
    let digits = u.toString(base);
    if (upper) digits = digits.toUpperCase();
    digits = digits.padStart(prec, '0');
    if (this.f.sharp) {
      if (base === 2) digits = `0b${digits}`;
      else if (base === 8 && digits[0] !== '0') digits = `0${digits}`;
      else if (base === 16) digits = `0${upper ? 'X' : 'x'}${digits}`;
    }
    if (verb === 'O') digits = `0o${digits}`;
    if (negative) digits = `-${digits}`;
    else if (this.f.plus) digits = `+${digits}`;
    else if (this.f.space) digits = ` ${digits}`;
    // Zero padding was done as precision above, or is ignored because a precision was given.
    const zero = this.f.zero;
    this.f.zero = false;
    this.pad(digits);
    this.f.zero = zero;
  }

  private fmtString(s: string, verb: string, arg: Value): void {
    switch (verb) {
      case 'v':
        if (this.f.sharpV) return this.fmtQ(s);
        return this.fmtS(s);
      case 's':
        return this.fmtS(s);
      case 'x':
      case 'X':
        return this.fmtSx(s, verb === 'X');
      case 'q':
        return this.fmtQ(s);
      default:
        this.badVerb(verb, arg);
    }
  }

  private truncate(s: string): string {
    if (this.f.prec === undefined) return s;
    return [...s].slice(0, this.f.prec).join('');
  }

  private fmtS(s: string): void {
    this.pad(this.truncate(s));
  }

  /** Hex of the UTF-8 bytes, the precision counting bytes; `#` adds 0x, space separates bytes. */
  private fmtSx(s: string, upper: boolean): void {
    let bytes = [...Buffer.from(s, 'utf8')];
    if (this.f.prec !== undefined) bytes = bytes.slice(0, this.f.prec);
    const prefix = this.f.sharp ? (upper ? '0X' : '0x') : '';
    const hex = bytes.map((b) => b.toString(16).padStart(2, '0')).map((h) => (upper ? h.toUpperCase() : h));
    this.pad(this.f.space ? hex.map((h) => prefix + h).join(' ') : hex.length > 0 ? prefix + hex.join('') : '');
  }

  private fmtQ(s: string): void {
    s = this.truncate(s);
    if (this.f.sharp && canBackquote(s)) this.pad(`\`${s}\``);
    else this.pad(quote(s, this.f.plus));
  }
}

function runeOf(v: bigint): string {
  return v < 0n || v > 0x10ffffn || (v >= 0xd800n && v < 0xe000n) ? '\ufffd' : String.fromCodePoint(Number(v));
}

/** fmt.Sprintf. */
export function sprintf(format: string, args: readonly Value[]): string {
  const p = new Printer();
  let argNum = 0;
  const chars = [...format];
  let i = 0;
  /** Go's parsenum: digits at i (at most 1e6), or undefined. */
  const parseNum = (): number | undefined => {
    let n: number | undefined;
    while (i < chars.length && /[0-9]/.test(chars[i] as string)) {
      n = (n ?? 0) * 10 + Number(chars[i]);
      if (n > 1e6) return undefined;
      i++;
    }
    return n;
  };
  /** `*`: the width or precision from an int argument. */
  const intArg = (): number | undefined => {
    const a = args[argNum];
    if (argNum >= args.length || typeof a !== 'bigint' || a > 1000000n || a < -1000000n) {
      if (argNum < args.length) argNum++;
      return undefined;
    }
    argNum++;
    return Number(a);
  };
  while (i < chars.length) {
    const lit = chars.indexOf('%', i);
    if (lit < 0) {
      p.out += chars.slice(i).join('');
      break;
    }
    p.out += chars.slice(i, lit).join('');
    i = lit + 1;
    p.f = noFlags();
    flags: for (; i < chars.length; i++) {
      switch (chars[i]) {
        case '#':
          p.f.sharp = true;
          break;
        case '0':
          p.f.zero = !p.f.minus; // only pad with zeros on the left
          break;
        case '+':
          p.f.plus = true;
          break;
        case '-':
          p.f.minus = true;
          p.f.zero = false;
          break;
        case ' ':
          p.f.space = true;
          break;
        default:
          break flags;
      }
    }
    if (chars[i] === '*') {
      i++;
      p.f.wid = intArg();
      if (p.f.wid === undefined) p.out += '%!(BADWIDTH)';
      else if (p.f.wid < 0) {
        p.f.wid = -p.f.wid;
        p.f.minus = true;
        p.f.zero = false;
      }
    } else p.f.wid = parseNum();
    if (chars[i] === '.') {
      i++;
      if (chars[i] === '*') {
        i++;
        p.f.prec = intArg();
        if (p.f.prec !== undefined && p.f.prec < 0) p.f.prec = undefined;
        if (p.f.prec === undefined) p.out += '%!(BADPREC)';
      } else p.f.prec = parseNum() ?? 0;
    }
    if (i >= chars.length) {
      p.out += '%!(NOVERB)';
      break;
    }
    const verb = chars[i] as string;
    i++;
    if (verb === '%') {
      // A percent takes no argument and ignores width and precision.
      p.out += '%';
    } else if (argNum >= args.length) {
      p.out += `%!${verb}(MISSING)`;
    } else {
      if (verb === 'v') {
        p.f.sharpV = p.f.sharp;
        p.f.sharp = false;
        p.f.plusV = p.f.plus;
        p.f.plus = false;
      }
      p.printArg(args[argNum], verb);
      argNum++;
    }
  }
  if (argNum < args.length) {
    p.f = noFlags();
    p.out += '%!(EXTRA ';
    args.slice(argNum).forEach((a, k) => {
      if (k > 0) p.out += ', ';
      if (a === null || a === undefined) p.out += '<nil>';
      else {
        p.out += `${goTypeName(a)}=`;
        p.printArg(a, 'v');
      }
    });
    p.out += ')';
  }
  return p.out;
}

function isStringKind(v: Value): boolean {
  return typeof v === 'string' || v instanceof GoHTML;
}

/** fmt.Sprint: %v of each, with a space between two operands when neither is a string. */
export function sprint(args: readonly Value[]): string {
  const p = new Printer();
  args.forEach((a, k) => {
    if (k > 0 && !isStringKind(a) && !isStringKind(args[k - 1])) p.out += ' ';
    p.printArg(a, 'v');
  });
  return p.out;
}

/** fmt.Sprintln: %v of each, spaces between, a newline after. */
export function sprintln(args: readonly Value[]): string {
  const p = new Printer();
  args.forEach((a, k) => {
    if (k > 0) p.out += ' ';
    p.printArg(a, 'v');
  });
  return `${p.out}\n`;
}

/**
 * A value as text/template hands it to fmt (printableValue): an invalid or nil value becomes
 * `<no value>`, a pointer its target (a *sample prints as {map[…] 1}, not &{…}).
 */
export function printable(v: Value): Value {
  if (v === undefined || v === null) return '<no value>';
  return v instanceof GoStruct && v.pointer ? new GoStruct(v.typeName, v.fields) : v;
}

/** What an action prints: fmt.Fprint of the printable value. */
export function printTemplateValue(v: Value): string {
  return sprint([printable(v)]);
}
