/**
 * Numeric parameters (query strings, headers): one strict decimal form for every route. Digits
 * only, no sign, exponent, hexadecimal, blank or leading zero, at most 2^53 - 1: "0x1", " 1",
 * "1e3", "+1", "01" and "-1" are refused naming the parameter, never read as another number.
 * Routes declare DECIMAL in their schema; handlers read the value with decimal().
 */
import { invalid } from '@candor/core/errors';

const PATTERN = '^(0|[1-9][0-9]{0,15})$';

/** The schema of a numeric query parameter (a string, as it arrives). */
export const DECIMAL = { type: 'string', pattern: PATTERN } as const;

/** What a refusal of DECIMAL says, for the error mapping (errors.ts). */
export function decimalMismatch(pattern: unknown, name: string): string | undefined {
  return pattern === PATTERN ? `${name} must be a decimal integer from 0 to 2^53 - 1 (digits only: no sign, exponent, spaces or leading zeros)` : undefined;
}

/** A DECIMAL value (or a raw string, for parameters parsed by hand) as a number. */
export function decimal(s: string, name: string): number;
export function decimal(s: string | undefined, name: string): number | undefined;
export function decimal(s: string | undefined, name: string): number | undefined {
  if (s === undefined) return undefined;
  const n = new RegExp(PATTERN).test(s) ? Number(s) : NaN;
  if (!Number.isSafeInteger(n)) throw invalid(decimalMismatch(PATTERN, name)!);
  return n;
}
