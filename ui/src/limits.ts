// Speed and share limits as the UI shows and takes them. The API counts speed limits in
// bytes/s (0 = unlimited, else 16 KiB/s to 4 GiB/s, README "Speed limits"); people type
// KiB/s. Every check here mirrors the server's (engine/speed.rs, engine/share.rs), so a bad
// value is explained before anything is sent.
import { bytes } from './format';
import type { Row } from './types';

/** The smallest limit other than 0: one 16 KiB block per second. */
export const LIMIT_MIN = 16 * 1024;
/** The largest limit the engine counts (u32::MAX bytes/s). */
export const LIMIT_MAX = 4294967295;
export const RATIO_MAX = 1000;
export const MINUTES_MAX = 5256000;

export type ShareAction = NonNullable<Row['share']['share_action']>;
export const SHARE_ACTIONS: [ShareAction, string][] = [
  ['pause', 'pause'],
  ['remove', 'remove'],
  ['remove_with_data', 'remove with data'],
];

/** A limit as text: "unlimited", "16 KiB/s", "1.5 MiB/s" (no trailing zeros). */
export function limitText(b: number | null | undefined, none = 'unlimited'): string {
  if (!b) return none;
  return bytes(b).replace(/\.(\d*?)0+ /, (_, d: string) => (d ? '.' + d + ' ' : ' ')) + '/s';
}

/** Bytes/s as the text of a KiB/s input: '' for 0 (unlimited). */
export function kibText(b: number | null | undefined): string {
  if (!b) return '';
  const k = b / 1024;
  return String(Number.isInteger(k) ? k : Math.round(k * 100) / 100);
}

export type Parsed<T> = { ok: true; v: T } | { ok: false; error: string };

/**
 * Reads a KiB/s input: empty or 0 → 0 (unlimited), else bytes/s within the server's range.
 * `what` names the field in the message. Text equal to `kibText(orig)` gives back `orig`
 * exactly, so a value set elsewhere in bytes is not rounded by saving the form.
 */
export function parseKib(text: string, what: string, orig?: number): Parsed<number> {
  const t = text.trim().replace(',', '.');
  if (orig !== undefined && t === kibText(orig)) return { ok: true, v: orig };
  if (t === '') return { ok: true, v: 0 };
  const k = Number(t);
  if (!/^\d*\.?\d+$|^\d+\.$/.test(t) || !Number.isFinite(k)) return { ok: false, error: `${what}: “${text.trim()}” is not a number of KiB/s.` };
  const v = Math.round(k * 1024);
  if (v === 0) return { ok: true, v: 0 };
  if (v < LIMIT_MIN) return { ok: false, error: `${what}: ${t} KiB/s is too low; the smallest limit is 16 KiB/s (empty or 0 = unlimited).` };
  if (v > LIMIT_MAX) return { ok: false, error: `${what}: ${t} KiB/s is too high; the largest limit is ${Math.floor(LIMIT_MAX / 1024)} KiB/s.` };
  return { ok: true, v };
}

/** A ratio input: '' → null; -1 (none) or 0..1000. */
export function parseRatio(text: string, what = 'Ratio limit'): Parsed<number | null> {
  const t = text.trim().replace(',', '.');
  if (t === '') return { ok: true, v: null };
  const r = Number(t);
  if (!Number.isFinite(r) || !(r === -1 || (r >= 0 && r <= RATIO_MAX))) return { ok: false, error: `${what}: “${text.trim()}” must be a ratio from 0 to ${RATIO_MAX} (or -1 for none).` };
  return { ok: true, v: r };
}

/** A seeding-time input in minutes: '' → null; -1 (none) or 0..5256000 (ten years). */
export function parseMinutes(text: string, what = 'Seeding time limit'): Parsed<number | null> {
  const t = text.trim();
  if (t === '') return { ok: true, v: null };
  const m = Number(t);
  if (!/^-?\d+$/.test(t) || !(m === -1 || (m >= 0 && m <= MINUTES_MAX))) return { ok: false, error: `${what}: “${t}” must be whole minutes from 0 to ${MINUTES_MAX} (or -1 for none).` };
  return { ok: true, v: m };
}

/** The text of a ratio or minutes input for a stored value. */
export function numText(v: number | null | undefined): string {
  return v == null ? '' : String(v);
}

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
export type SizeUnit = 'MiB' | 'GiB';

/** A byte count as the text and unit of a size input (GiB when whole, else MiB). */
export function sizeText(b: number): { text: string; unit: SizeUnit } {
  if (b % GiB === 0) return { text: String(b / GiB), unit: 'GiB' };
  const m = b / MiB;
  return { text: String(Number.isInteger(m) ? m : Math.round(m * 100) / 100), unit: 'MiB' };
}

/** Reads a size input in MiB or GiB as bytes. `what` names the field and `hint` ends the
 * message ("(0 = no guard)"). With `optional`, empty text is `null` (no bound). */
export function parseSize(text: string, unit: string, what: string, hint = '', optional = false): Parsed<number | null> {
  const t = text.trim().replace(',', '.');
  if (optional && !t) return { ok: true, v: null };
  const v = Number(t);
  if (!/^\d*\.?\d+$/.test(t) || !Number.isFinite(v)) return { ok: false, error: `${what}: “${text.trim()}” is not a number of ${unit}${hint ? ' ' + hint : ''}.` };
  const b = Math.round(v * (unit === 'GiB' ? GiB : MiB));
  if (b > Number.MAX_SAFE_INTEGER) return { ok: false, error: `${what}: too large.` };
  return { ok: true, v: b };
}
