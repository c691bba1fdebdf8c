// The statistics of `ptg compare`: intervals for rates and means, two paired tests, a sample size.
// Pure functions, no I/O. The distribution functions (normal and t quantiles, normal and binomial
// CDFs) come from cephes, Moshier's Cephes C library compiled to WebAssembly: one package with no
// dependencies, the same code SciPy's special functions grew from. The tests around them follow
// R's binom.test and wilcox.test step for step, so their p-values can be checked against R's.
import { bdtr, bdtrc, compiled, lgam, ndtr, ndtri, stdtri } from 'cephes';

// Imported as an ES module, cephes compiles its WebAssembly asynchronously: its functions throw until then.
await compiled;

/** The significance level of every verdict, and the one `pairsNeeded` plans for. */
export const ALPHA = 0.05;
/** The power `pairsNeeded` plans for. */
export const POWER = 0.8;

/** An estimate with its interval; `method: 'none'` when there is no interval (too few values). */
export interface Interval {
  n: number;
  estimate?: number;
  low?: number;
  high?: number;
  method: 'wilson' | 't' | 'bootstrap' | 'none';
}

function check(ok: boolean, message: string): void {
  if (!ok) throw new RangeError(message);
}

const isCount = (x: number) => Number.isInteger(x) && x >= 0;

/** The quantile that leaves (1 - confidence) / 2 in each tail, checked. */
function upperTail(confidence: number): number {
  check(confidence > 0 && confidence < 1, `confidence must be between 0 and 1, not ${confidence}`);
  return 1 - (1 - confidence) / 2;
}

/** 95% Wilson score interval for a rate (successes of n). n = 0 gives no estimate. */
export function wilson(successes: number, n: number, confidence = 0.95): Interval {
  check(isCount(n) && isCount(successes) && successes <= n, `wilson needs whole counts with successes ≤ n, not ${successes} of ${n}`);
  const z = ndtri(upperTail(confidence));
  if (n === 0) return { n, method: 'none' };
  const p = successes / n;
  const z2n = (z * z) / n;
  const centre = (p + z2n / 2) / (1 + z2n);
  const half = (z / (1 + z2n)) * Math.sqrt((p * (1 - p)) / n + z2n / (4 * n));
  // At 0 of n and n of n the bound is exactly 0 or 1; rounding would leave 1e-16 off.
  return {
    n,
    estimate: p,
    low: successes === 0 ? 0 : centre - half,
    high: successes === n ? 1 : centre + half,
    method: 'wilson',
  };
}

/** Mean with a 95% t interval (Student's t quantile, n-1 df); n < 2 gives an estimate with no interval. */
export function meanInterval(values: number[], confidence = 0.95): Interval {
  check(values.every(Number.isFinite), 'meanInterval needs finite numbers');
  const q = upperTail(confidence);
  const n = values.length;
  if (n === 0) return { n, method: 'none' };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { n, estimate: mean, method: 'none' };
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1);
  const half = stdtri(n - 1, q) * Math.sqrt(variance / n);
  return { n, estimate: mean, low: mean - half, high: mean + half, method: 't' };
}

/** P(X = k) for X ~ Binomial(n, p), from log-gammas: cephes has the CDF but no mass function. */
function dbinom(k: number, n: number, p: number): number {
  return Math.exp(lgam(n + 1) - lgam(k + 1) - lgam(n - k + 1) + k * Math.log(p) + (n - k) * Math.log1p(-p));
}

/** P(X ≤ k); cephes calls k outside 0..n-1 a domain error. */
function pbinom(k: number, n: number, p: number): number {
  return k < 0 ? 0 : k >= n ? 1 : bdtr(k, n, p);
}

/** P(X > k). */
function pbinomUpper(k: number, n: number, p: number): number {
  return k < 0 ? 1 : k >= n ? 0 : bdtrc(k, n, p);
}

/**
 * Two-sided exact binomial test of x successes in n trials against rate p: R's
 * binom.test(x, n, p)$p.value. Like R, it adds up every outcome no likelier than x.
 */
export function binomTest(x: number, n: number, p = 0.5): number {
  check(isCount(n) && n > 0 && isCount(x) && x <= n, `binomTest needs whole counts with 0 ≤ x ≤ n and n > 0, not ${x} of ${n}`);
  check(p >= 0 && p <= 1, `binomTest needs a rate between 0 and 1, not ${p}`);
  if (p === 0) return x === 0 ? 1 : 0;
  if (p === 1) return x === n ? 1 : 0;
  const m = n * p;
  if (x === m) return 1;
  // R's fuzz: the outcome mirroring x (at p = 0.5, n - x) is exactly as likely, but rounding may say otherwise.
  const d = dbinom(x, n, p) * (1 + 1e-7);
  let y = 0;
  let pValue: number;
  if (x < m) {
    for (let i = Math.ceil(m); i <= n; i++) if (dbinom(i, n, p) <= d) y++;
    pValue = pbinom(x, n, p) + pbinomUpper(n - y, n, p);
  } else {
    for (let i = 0; i <= Math.floor(m); i++) if (dbinom(i, n, p) <= d) y++;
    pValue = pbinom(y - 1, n, p) + pbinomUpper(x - 1, n, p);
  }
  // The two tails never overlap, but their rounded sum can come out a hair above 1 (R prints it as 1).
  return Math.min(1, pValue);
}

/** Exact two-sided sign/McNemar test on discordant pairs: b pairs where only A succeeded, c where only B did. Equals R's binom.test(b, b + c, 0.5)$p.value; 1 when b + c = 0. */
export function mcnemarExact(b: number, c: number): { b: number; c: number; pValue: number } {
  check(isCount(b) && isCount(c), `mcnemarExact needs whole counts, not ${b} and ${c}`);
  return { b, c, pValue: b + c === 0 ? 1 : binomTest(b, b + c, 0.5) };
}

/** Ranks of `values` from 1, ties sharing their mean rank (R's rank()), and the size of each group of ties. */
function midranks(values: number[]): { ranks: number[]; tieSizes: number[] } {
  const order = values.map((_, i) => i).sort((i, j) => values[i]! - values[j]!);
  const ranks = new Array<number>(values.length);
  const tieSizes: number[] = [];
  for (let start = 0; start < order.length; ) {
    let end = start + 1;
    while (end < order.length && values[order[end]!] === values[order[start]!]) end++;
    // Positions start..end-1 hold ranks start+1..end.
    for (let k = start; k < end; k++) ranks[order[k]!] = (start + 1 + end) / 2;
    if (end - start > 1) tieSizes.push(end - start);
    start = end;
  }
  return { ranks, tieSizes };
}

/**
 * How many of the 2^n sign patterns of ranks 1..n give each sum of positive ranks (R's csignrank).
 * For n < 50 every count is below 2^49, so the doubles hold them exactly.
 */
function signedRankCounts(n: number): number[] {
  const max = (n * (n + 1)) / 2;
  const counts = new Array<number>(max + 1).fill(0);
  counts[0] = 1;
  for (let rank = 1; rank <= n; rank++) {
    for (let sum = (rank * (rank + 1)) / 2; sum >= rank; sum--) counts[sum]! += counts[sum - rank]!;
  }
  return counts;
}

/**
 * Wilcoxon signed-rank test on paired differences (zeros dropped, as R does), two-sided. Equals
 * R's wilcox.test(d, mu = 0)$p.value: the exact distribution when fewer than 50
 * differences remain and none are tied or zero; otherwise the normal approximation with continuity
 * correction and tie correction. As in R, a zero among the differences rules out the exact
 * distribution even though zeros are dropped. Ties are exact equality of the numbers given.
 * `statistic` is V, the sum of the ranks of the positive differences. n = 0 gives pValue 1.
 */
export function signedRank(differences: number[]): { n: number; statistic: number; pValue: number; exact: boolean } {
  check(differences.every(Number.isFinite), 'signedRank needs finite numbers');
  const nonzero = differences.filter((d) => d !== 0);
  const n = nonzero.length;
  if (n === 0) return { n, statistic: 0, pValue: 1, exact: false };
  const { ranks, tieSizes } = midranks(nonzero.map(Math.abs));
  const statistic = ranks.reduce((sum, r, i) => (nonzero[i]! > 0 ? sum + r : sum), 0);
  const mean = (n * (n + 1)) / 4;

  // R's releases have long chosen so. R's development sources of 2025 also give exact p-values
  // under ties (a conditional distribution); this keeps the normal approximation there.
  if (n < 50 && tieSizes.length === 0 && n === differences.length) {
    const counts = signedRankCounts(n);
    // P(V' ≥ V) or P(V' ≤ V), whichever side of the mean V is on, doubled: whole counts, one exact division.
    const tail = statistic > mean ? counts.slice(statistic) : counts.slice(0, statistic + 1);
    const pValue = Math.min(1, (2 * tail.reduce((a, b) => a + b, 0)) / 2 ** n);
    return { n, statistic, pValue, exact: true };
  }

  const sigma = Math.sqrt((n * (n + 1) * (2 * n + 1)) / 24 - tieSizes.reduce((a, t) => a + t ** 3 - t, 0) / 48);
  const shift = statistic - mean;
  const z = (shift - Math.sign(shift) * 0.5) / sigma;
  return { n, statistic, pValue: 2 * Math.min(ndtr(z), ndtr(-z)), exact: false };
}

/**
 * How many paired units (STP × repeats) a paired test of success rates needs to detect a
 * `difference` in success rate (e.g. 0.2) with 80% power at alpha 0.05, two-sided. Connor's (1987)
 * normal approximation for McNemar's test: n = (z₀.₉₇₅·√ψ + z₀.₈·√(ψ − δ²))² / δ², rounded up,
 * with δ the difference and ψ the `discordance`, the share of pairs where exactly one of A and B
 * succeeds (at least |δ|). Without ψ it takes 0.5 + δ²/2: A and B succeeding independently at
 * rates 0.5 ± δ/2, the most discordance pairs show unless A's and B's results work against each
 * other; when an STP tends to be easy (or hard) for both, ψ and the pairs needed are smaller.
 * The exact test compare runs is conservative: at this n its power is about 76-77%, not 80%.
 */
export function pairsNeeded(difference: number, discordance?: number): number {
  const delta = Math.abs(difference);
  const psi = discordance ?? 0.5 + delta ** 2 / 2;
  check(delta > 0 && delta <= 1, `pairsNeeded needs a difference in rate between 0 and 1, not ${difference}`);
  check(psi >= delta && psi <= 1, `the discordance must lie between the difference (${delta}) and 1, not ${psi}`);
  const root = ndtri(1 - ALPHA / 2) * Math.sqrt(psi) + ndtri(POWER) * Math.sqrt(psi - delta ** 2);
  return Math.ceil((root / delta) ** 2);
}

/**
 * A plain verdict at alpha 0.05: 'better' or 'worse' when p < 0.05 and the effect has a direction,
 * else 'no detectable difference'. `direction` is the sign of the effect of B against A (B − A:
 * c − b for mcnemarExact, V − n(n+1)/4 for signedRank on B − A); `higherIsBetter` says whether a
 * higher value is good for this measure (success rate: true; pyright errors, cost: false).
 */
export function verdict(pValue: number, direction: number, higherIsBetter: boolean): 'better' | 'worse' | 'no detectable difference' {
  const sign = Math.sign(direction);
  // NaN p-values and directions (no data) fall through to "no detectable difference".
  if (!(pValue < ALPHA) || !sign) return 'no detectable difference';
  return (sign > 0) === higherIsBetter ? 'better' : 'worse';
}
