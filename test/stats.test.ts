// The statistics of `ptg compare` against published reference values. Two kinds of source:
// - R's own outputs, as printed (4 significant digits or so): compared within half a unit of their
//   last digit;
// - SciPy 1.17.1 and statsmodels 0.15.0, full precision, printed by test/fixtures/stats-reference.py
//   (no R on this machine; SciPy's wilcoxon and binomtest follow R's rules and reproduce the R
//   outputs below): compared within 1e-6, or relatively for tiny p-values.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ALPHA, binomTest, mcnemarExact, meanInterval, pairsNeeded, signedRank, verdict, wilson } from '../src/core/reports/stats.js';

function close(actual: number | undefined, expected: number, tolerance = 1e-6): void {
  assert.ok(actual !== undefined && Math.abs(actual - expected) <= tolerance, `${actual} is not within ${tolerance} of ${expected}`);
}

// R's ?wilcox.test example (Hollander & Wolfe 1973, 29f.): Hamilton depression scale, first (x) and second (y) visit.
const depressionX = [1.83, 0.5, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.3];
const depressionY = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29];
// R's `sleep` data (Student 1908): extra hours of sleep with drug 1 and drug 2, same ten patients.
const sleep1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0];
const sleep2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4];
const minus = (a: number[], b: number[]) => a.map((v, i) => v - b[i]!);

describe('wilson', () => {
  test('matches statsmodels proportion_confint(method="wilson")', () => {
    const cases: [number, number, number, number][] = [
      [3, 10, 0.10779126740630104, 0.6032218525388546],
      [50, 100, 0.4038315303659956, 0.5961684696340044],
      [0, 7, 0, 0.3543304350666875],
    ];
    for (const [s, n, low, high] of cases) {
      const interval = wilson(s, n);
      assert.equal(interval.method, 'wilson');
      assert.equal(interval.estimate, s / n);
      close(interval.low, low);
      close(interval.high, high);
    }
  });

  test("Newcombe (1998) Table I, Wilson's score method, to the 4 decimals published", () => {
    // Newcombe, Two-sided confidence intervals for the single proportion, Stat Med 17:857-872.
    const cases: [number, number, number, number][] = [
      [81, 263, 0.2553, 0.3662],
      [15, 148, 0.0624, 0.1605],
      [0, 20, 0, 0.1611],
      [1, 29, 0.0061, 0.1718],
    ];
    for (const [s, n, low, high] of cases) {
      const interval = wilson(s, n);
      close(interval.low, low, 5e-5);
      close(interval.high, high, 5e-5);
    }
  });

  test('all successes: 7 of 7 reaches exactly 1 (statsmodels: 0.6456695649333125 to 1)', () => {
    const interval = wilson(7, 7);
    close(interval.low, 0.6456695649333125);
    assert.equal(interval.high, 1);
    // The formula's rounding lands 1e-16 off 0 or 1 for many n (1.0000000000000002 at 16 of 16).
    for (const n of [7, 10, 16, 27]) {
      assert.equal(wilson(n, n).high, 1);
      assert.equal(wilson(0, n).low, 0);
    }
  });

  test('another confidence level: 90% (statsmodels, alpha 0.10)', () => {
    const interval = wilson(3, 10, 0.9);
    close(interval.low, 0.12687658390319784);
    close(interval.high, 0.558300204130165);
  });

  test('n = 0 gives no estimate', () => {
    assert.deepEqual(wilson(0, 0), { n: 0, method: 'none' });
  });

  test('counts that are not counts are refused', () => {
    assert.throws(() => wilson(8, 7), RangeError);
    assert.throws(() => wilson(1.5, 7), RangeError);
    assert.throws(() => wilson(1, 7, 95), RangeError);
  });
});

describe('meanInterval', () => {
  test("R's ?t.test sleep example: paired t.test gives mean difference -1.58, 95% CI -2.4598858 -0.7001142", () => {
    const interval = meanInterval(minus(sleep1, sleep2));
    assert.equal(interval.method, 't');
    assert.equal(interval.n, 10);
    close(interval.estimate, -1.58, 1e-12);
    close(interval.low, -2.4598858, 5e-8);
    close(interval.high, -0.7001142, 5e-8);
    // SciPy's t.interval, full precision.
    close(interval.low, -2.4598857632769824, 1e-9);
    close(interval.high, -0.7001142367230176, 1e-9);
  });

  test('matches scipy.stats.t.interval at 95% and 99%, and with 1 degree of freedom', () => {
    const costs = [0.42, 0.37, 0.51, 0.44, 0.39, 0.61];
    const at95 = meanInterval(costs);
    close(at95.estimate, 0.4566666666666666);
    close(at95.low, 0.3628805424472099);
    close(at95.high, 0.5504527908861233);
    const at99 = meanInterval(costs, 0.99);
    close(at99.low, 0.3095563675570049);
    close(at99.high, 0.6037769657763283);
    // Two values: t(0.975, 1) = 12.706204736174694.
    const pair = meanInterval([3, 5]);
    close(pair.low, -8.706204736174694);
    close(pair.high, 16.706204736174694);
  });

  test('one value gives an estimate with no interval; none gives nothing', () => {
    assert.deepEqual(meanInterval([0.7]), { n: 1, estimate: 0.7, method: 'none' });
    assert.deepEqual(meanInterval([]), { n: 0, method: 'none' });
  });

  test('identical values: an interval of width 0', () => {
    assert.deepEqual(meanInterval([2, 2, 2]), { n: 3, estimate: 2, low: 2, high: 2, method: 't' });
  });

  test('NaN is refused rather than averaged', () => {
    assert.throws(() => meanInterval([1, Number.NaN]), RangeError);
  });
});

describe('binomTest and mcnemarExact', () => {
  test("R's ?binom.test example: binom.test(682, 925, p = 0.75) gives p-value = 0.3825", () => {
    close(binomTest(682, 925, 0.75), 0.3825, 5e-5);
    close(binomTest(682, 925, 0.75), 0.3824915595748517); // SciPy binomtest
    close(binomTest(3, 20, 0.3), 0.22041826738070913); // SciPy: an asymmetric case where x < n·p
  });

  test('StatsDirect’s McNemar example (Armitage & Berry 1994, p. 127): 12 and 2 discordant, exact P = 0.0129', () => {
    const result = mcnemarExact(12, 2);
    assert.deepEqual({ b: result.b, c: result.c }, { b: 12, c: 2 });
    close(result.pValue, 0.0129, 5e-5);
    // 2·(1 + 14 + 91)/2^14, which is also SciPy's value.
    close(result.pValue, 212 / 16384, 1e-12);
  });

  test('matches scipy.stats.binomtest(b, b + c, 0.5)', () => {
    const cases: [number, number, number][] = [
      [0, 5, 0.0625],
      [7, 19, 0.028959274291992188],
      [40, 60, 0.05688793364098089],
      [3, 3, 1],
      [1, 0, 1],
    ];
    for (const [b, c, p] of cases) close(mcnemarExact(b, c).pValue, p, 1e-12);
    // The test is symmetric in A and B.
    close(mcnemarExact(60, 40).pValue, 0.05688793364098089, 1e-12);
  });

  test('no discordant pairs: p = 1', () => {
    assert.deepEqual(mcnemarExact(0, 0), { b: 0, c: 0, pValue: 1 });
  });
});

describe('signedRank', () => {
  test("R's ?wilcox.test depression example: V = 40, one-sided p = 0.01953, two-sided exactly 20/512", () => {
    const result = signedRank(minus(depressionX, depressionY));
    assert.deepEqual({ n: result.n, statistic: result.statistic, exact: result.exact }, { n: 9, statistic: 40, exact: true });
    close(result.pValue / 2, 0.01953, 5e-6);
    assert.equal(result.pValue, 20 / 512);
  });

  test("R's sleep data (ties and a zero): wilcox.test(extra[group == 1], extra[group == 2], paired = TRUE) gives V = 0, p-value = 0.009091", () => {
    const result = signedRank(minus(sleep1, sleep2));
    assert.deepEqual({ n: result.n, statistic: result.statistic, exact: result.exact }, { n: 9, statistic: 0, exact: false });
    close(result.pValue, 0.009091, 5e-7);
    close(result.pValue, 0.009090698015925044, 1e-12); // SciPy
  });

  test('an R 4.3.1 session, 50 pairs of Likert scores with ties and zeros: V = 636.5, p-value = 1.167e-05', () => {
    // Printed by R 4.3.1's wilcox.test(a, b, paired = TRUE) in a public project's test file.
    const a = [6, 4, 5, 5, 7, 6, 6, 6, 7, 6, 6, 5, 6, 6, 5, 5, 3, 6, 6, 5, 6, 5, 4, 6, 6, 6, 7, 4, 3, 4, 6, 6, 5, 6, 4, 6, 6, 5, 7, 6, 6, 5, 6, 7, 6, 6, 6, 5, 7, 7];
    const b = [5, 3, 5, 3, 5, 3, 6, 2, 3, 6, 2, 5, 5, 6, 4, 6, 4, 5, 5, 3, 7, 5, 6, 6, 4, 3, 4, 3, 2, 4, 5, 4, 4, 6, 2, 6, 7, 4, 4, 5, 5, 5, 5, 7, 4, 5, 3, 2, 6, 7];
    const result = signedRank(minus(a, b));
    assert.equal(result.statistic, 636.5);
    assert.equal(result.n, 37);
    close(result.pValue, 1.167e-5, 5e-9);
    close(result.pValue, 1.1673009273391345e-5, 1e-15); // SciPy
  });

  test('matches scipy.stats.wilcoxon: exact below 50 differences without ties, the normal approximation from 50', () => {
    // |d| = 1..n, negative at every third.
    const spread = (n: number) => Array.from({ length: n }, (_, i) => (i + 1) * (i % 3 === 0 ? -1 : 1));
    const cases: [string, number[], number, number, number, boolean][] = [
      ['seven', [1.5, -0.3, 2.2, 0.7, -1.1, 3.4, 0.9], 7, 23, 0.15625, true],
      ['all negative', [-1, -2, -3, -4, -5], 5, 0, 0.0625, true],
      ['49', spread(49), 49, 800, 0.06248542836759796, true],
      ['50', spread(50), 50, 850, 0.04070768613514751, false],
      ['ties', [1, 1, 2, -2, 3, 3, 3, -1], 8, 29.5, 0.11933210366927456, false],
      ['zeros', [0, 0, 1, 2, -3, 4, 5], 5, 12, 0.2807126652684958, false],
      ['rate differences', [0.5, 0.25, -0.25, 0.5, 0, 0.75, 0.5, -0.5, 0.25, 0.25], 9, 36, 0.11691404394944468, false],
    ];
    for (const [name, d, n, statistic, p, exact] of cases) {
      const result = signedRank(d);
      assert.deepEqual({ n: result.n, statistic: result.statistic, exact: result.exact }, { n, statistic, exact }, name);
      close(result.pValue, p, 1e-9);
    }
  });

  test('a zero rules out the exact distribution, as in R, even with no ties left', () => {
    // Without the zero: exact, 2·P(V ≥ 12) over 5 ranks = 2·5/32 (SciPy: 0.3125).
    assert.deepEqual(signedRank([1, 2, -3, 4, 5]), { n: 5, statistic: 12, pValue: 0.3125, exact: true });
    assert.equal(signedRank([0, 1, 2, -3, 4, 5]).exact, false);
  });

  test('small samples: one difference, and V at the centre, give p = 1', () => {
    assert.deepEqual(signedRank([2]), { n: 1, statistic: 1, pValue: 1, exact: true });
    assert.deepEqual(signedRank([-2]), { n: 1, statistic: 0, pValue: 1, exact: true });
    // V = 3 = n(n+1)/4: 2·P(V ≤ 3) = 10/8, capped as R caps it.
    assert.equal(signedRank([-3, 1, 2]).pValue, 1);
    assert.deepEqual(signedRank([1, 2, 3]), { n: 3, statistic: 6, pValue: 0.25, exact: true });
  });

  test('nothing to test: no differences, or all zero, give n = 0 and p = 1', () => {
    assert.deepEqual(signedRank([]), { n: 0, statistic: 0, pValue: 1, exact: false });
    assert.deepEqual(signedRank([0, 0, 0]), { n: 0, statistic: 0, pValue: 1, exact: false });
  });

  test('all tied: the normal approximation with tie correction', () => {
    // Four equal differences: V = 10, mean 5, σ² = 7.5 - (64 - 4)/48 = 6.25, z = (5 - 0.5)/2.5 = 1.8.
    const result = signedRank([0.5, 0.5, 0.5, 0.5]);
    assert.equal(result.exact, false);
    close(result.pValue, 0.07186063822585158, 1e-12); // 2·(1 - Φ(1.8)): SciPy's 2·norm.sf(1.8) and its wilcoxon
  });
});

describe('pairsNeeded', () => {
  test("Connor (1987) as worked in zarathucorp's open-powersamplesize: only A 0.05, only B 0.45 needs 23 pairs", () => {
    assert.equal(pairsNeeded(0.4, 0.5), 23);
    assert.equal(pairsNeeded(-0.4, 0.5), 23);
  });

  test('the same formula with SciPy quantiles, rounded up', () => {
    assert.equal(pairsNeeded(0.2, 0.3), 57); // 56.449736660911384
    assert.equal(pairsNeeded(0.1, 0.2), 155); // 154.59856956021105
    // Default discordance 0.5 + δ²/2 = 0.52.
    assert.equal(pairsNeeded(0.2), 100); // 99.6445587862356
  });

  test('at that many pairs the exact McNemar test has nearly 80% power (SciPy: 0.7716796850120928)', () => {
    // 57 pairs, only A succeeding in 5% of them, only B in 25%: δ = 0.2, ψ = 0.3.
    const n = pairsNeeded(0.2, 0.3);
    const pmf = (k: number, size: number, q: number) => {
      let p = (1 - q) ** size;
      for (let i = 0; i < k; i++) p *= ((size - i) / (i + 1)) * (q / (1 - q));
      return p;
    };
    let power = 0;
    for (let discordant = 1; discordant <= n; discordant++) {
      for (let b = 0; b <= discordant; b++) {
        if (mcnemarExact(b, discordant - b).pValue < ALPHA) power += pmf(discordant, n, 0.3) * pmf(b, discordant, 0.05 / 0.3);
      }
    }
    close(power, 0.7716796850120928, 1e-9);
  });

  test('a discordance below the difference is impossible and refused', () => {
    assert.throws(() => pairsNeeded(0.3, 0.2), RangeError);
    assert.throws(() => pairsNeeded(0), RangeError);
  });
});

describe('verdict', () => {
  test('significant effects read by direction and by what is good for the measure', () => {
    assert.equal(verdict(0.01, 1, true), 'better');
    assert.equal(verdict(0.01, -1, true), 'worse');
    assert.equal(verdict(0.01, 3, false), 'worse'); // more pyright errors
    assert.equal(verdict(0.01, -0.2, false), 'better'); // lower cost
  });

  test('p at or above 0.05, no direction, or no p-value: no detectable difference', () => {
    assert.equal(verdict(0.05, 1, true), 'no detectable difference');
    assert.equal(verdict(0.2, -1, true), 'no detectable difference');
    assert.equal(verdict(0.001, 0, true), 'no detectable difference');
    assert.equal(verdict(Number.NaN, 1, true), 'no detectable difference');
    assert.equal(verdict(0.001, Number.NaN, false), 'no detectable difference');
  });
});
