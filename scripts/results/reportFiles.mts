// What the RESULTS.md section generators share: reading a report JSON that may not exist yet, number formatting,
// and the best-FD row of a CFG sweep.
import { existsSync, readFileSync } from 'node:fs';

/** The parsed JSON file, or null when it has not been written yet. */
export const read = <T,>(p: string): T | null => (existsSync(p) ? JSON.parse(readFileSync(p, 'utf8')) as T : null);
export const f = (x: number, d = 2): string => x.toFixed(d);
/** The row with the lowest FD. */
export const bestFd = <R extends { fd: number }>(rows: R[]): R => rows.reduce((a, b) => (b.fd < a.fd ? b : a));
