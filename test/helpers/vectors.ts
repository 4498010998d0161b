// Loads the published vectors copied from ../shared/vectors (each file names its own sources).
import { readFileSync } from 'node:fs';

export function loadVectors<T = any>(name: string): T {
  return JSON.parse(readFileSync(new URL(`../vectors/${name}`, import.meta.url), 'utf8')) as T;
}
