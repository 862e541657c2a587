/**
 * The *time.Time values of Prometheus' templates (toTime, humanizeTimestamp): UTC times with millisecond
 * resolution (model.Time), printed by Go's Time.String and Format layouts, and their methods.
 */
import { GoTime, T, type GoFunc, type Value } from './values.js';

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

/**
 * The layout elements of Go's time.Format, longest first where one is a prefix of another; the zone
 * is always UTC (Z forms print `Z`, numeric ones zeros).
 */
const ELEMENTS: [string, (d: Date) => string][] = [
  ['January', (d) => MONTHS[d.getUTCMonth()] as string],
  ['Jan', (d) => (MONTHS[d.getUTCMonth()] as string).slice(0, 3)],
  ['Monday', (d) => DAYS[d.getUTCDay()] as string],
  ['Mon', (d) => (DAYS[d.getUTCDay()] as string).slice(0, 3)],
  ['MST', () => 'UTC'],
  ['2006', (d) => pad(d.getUTCFullYear(), 4)],
  ['002', (d) => pad(yearDay(d), 3)],
  ['__2', (d) => String(yearDay(d)).padStart(3, ' ')],
  ['_2', (d) => String(d.getUTCDate()).padStart(2, ' ')],
  ['01', (d) => pad(d.getUTCMonth() + 1, 2)],
  ['02', (d) => pad(d.getUTCDate(), 2)],
  ['03', (d) => pad(hour12(d), 2)],
  ['04', (d) => pad(d.getUTCMinutes(), 2)],
  ['05', (d) => pad(d.getUTCSeconds(), 2)],
  ['06', (d) => pad(d.getUTCFullYear() % 100, 2)],
  ['15', (d) => pad(d.getUTCHours(), 2)],
  ['1', (d) => String(d.getUTCMonth() + 1)],
  ['2', (d) => String(d.getUTCDate())],
  ['3', (d) => String(hour12(d))],
  ['4', (d) => String(d.getUTCMinutes())],
  ['5', (d) => String(d.getUTCSeconds())],
  ['PM', (d) => (d.getUTCHours() >= 12 ? 'PM' : 'AM')],
  ['pm', (d) => (d.getUTCHours() >= 12 ? 'pm' : 'am')],
  ['-07:00:00', () => '+00:00:00'],
  ['-070000', () => '+000000'],
  ['-07:00', () => '+00:00'],
  ['-0700', () => '+0000'],
  ['-07', () => '+00'],
  ['Z07:00:00', () => 'Z'],
  ['Z070000', () => 'Z'],
  ['Z07:00', () => 'Z'],
  ['Z0700', () => 'Z'],
  ['Z07', () => 'Z'],
];

function hour12(d: Date): number {
  const h = d.getUTCHours() % 12;
  return h === 0 ? 12 : h;
}

function yearDay(d: Date): number {
  return Math.floor((d.getTime() - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86_400_000) + 1;
}

/** The nanoseconds within the second (what Prometheus' times hold: whole milliseconds). */
function nanos(ms: number): number {
  return (((ms % 1000) + 1000) % 1000) * 1e6;
}

/** Go's time.Format in UTC. */
export function formatTime(ms: number, layout: string): string {
  const d = new Date(ms);
  let out = '';
  for (let i = 0; i < layout.length; ) {
    // Fractional seconds: .000 (fixed width) or .999 (trailing zeros dropped), also with a comma, then no digit.
    const frac = /^[.,](0+|9+)(?![0-9])/.exec(layout.slice(i));
    if (frac) {
      const digits = (frac[1] as string).length;
      const fraction = String(nanos(ms)).padStart(9, '0').slice(0, digits);
      if (frac[1]?.[0] === '0') out += (layout[i] as string) + fraction;
      else {
        const trimmed = fraction.replace(/0+$/, '');
        if (trimmed !== '') out += (layout[i] as string) + trimmed;
      }
      i += frac[0].length;
      continue;
    }
    const element = ELEMENTS.find(([name]) => layout.startsWith(name, i));
    if (element === undefined) {
      out += layout[i];
      i++;
      continue;
    }
    out += element[1](d);
    i += element[0].length;
  }
  return out;
}

/** Go's Time.String(): `2006-01-02 15:04:05.999999999 -0700 MST`, here always UTC. */
export function timeString(ms: number): string {
  return formatTime(ms, '2006-01-02 15:04:05.999999999 -0700 MST');
}

const method = (params: GoFunc['params'], call: (...args: Value[]) => Value): GoFunc => ({ params, call });

/** The methods of time.Time that templates call, e.g. `{{ (toTime 1.5e9).Format "2006" }}`. */
export function timeMethods(t: GoTime): ReadonlyMap<string, GoFunc> {
  const d = new Date(t.ms);
  return new Map<string, GoFunc>([
    ['Format', method([T.string], (layout) => formatTime(t.ms, layout as string))],
    ['String', method([], () => timeString(t.ms))],
    ['UTC', method([], () => t)],
    ['Unix', method([], () => BigInt(Math.floor(t.ms / 1000)))],
    ['UnixMilli', method([], () => BigInt(t.ms))],
    ['UnixNano', method([], () => BigInt(t.ms) * 1_000_000n)],
    ['Year', method([], () => BigInt(d.getUTCFullYear()))],
    ['YearDay', method([], () => BigInt(yearDay(d)))],
    ['Day', method([], () => BigInt(d.getUTCDate()))],
    ['Hour', method([], () => BigInt(d.getUTCHours()))],
    ['Minute', method([], () => BigInt(d.getUTCMinutes()))],
    ['Second', method([], () => BigInt(d.getUTCSeconds()))],
    ['Nanosecond', method([], () => BigInt(nanos(t.ms)))],
  ]);
}
