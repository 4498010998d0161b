/** "1 producer", "2 producers": a count with its noun in the right number for CLI output. */
export function count(n: number | bigint, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 || n === 1n ? singular : plural}`;
}
