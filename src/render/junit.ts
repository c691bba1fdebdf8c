import { experimentLabel } from '../core/workspace/experiment-folder.js';
import type { Report, ReportExperiment } from '../core/reports/report.js';

function xml(text: unknown): string {
  return (
    String(text ?? '')
      // Characters XML 1.0 cannot hold at all (terminal escapes in logs): dropped.
      .replace(/[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/g, '')
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
  );
}

const seconds = (ms?: number) => ((ms ?? 0) / 1000).toFixed(3);

/**
 * junit.xml: one test case per experiment. Not succeeded is a failure; with `strict`, a failed
 * check is too (one that could not run is not); a running experiment is skipped.
 */
export function junitXml(report: Report, opts: { strict?: boolean } = {}): string {
  const cases = report.experiments.map((e) => {
    const name = `STP ${experimentLabel(e.stp, e.requestedModel, e.repeat)}`;
    let verdict = '';
    if (e.status === 'running') verdict = `<skipped message="running"/>`;
    else if (e.status !== 'succeeded') {
      verdict = `<failure message="${xml(e.statusText)}" type="${e.status}">${xml([e.statusLine, e.agentError].filter(Boolean).join('\n'))}</failure>`;
    } else if (opts.strict && failedChecks(e).length) {
      const failed = failedChecks(e);
      const message = failed.map(([name, c]) => `${name} failed${c.count === null ? '' : ` (${c.count})`}`).join(', ');
      verdict = `<failure message="${xml(message)}" type="${xml(failed.map(([name]) => name).join(','))}">${xml([...failed.map(([name, c]) => `${name}: ${c.detail ?? 'failed'}`), ...e.testFiles].join('\n'))}</failure>`;
    }
    const out = e.logTail.length ? `<system-out>${xml(e.logTail.join('\n'))}</system-out>` : '';
    return `    <testcase classname="ptg.${xml(report.version)}" name="${xml(name)}" time="${seconds(e.durationMs)}">${verdict}${out}</testcase>`;
  });
  const failures = cases.filter((c) => c.includes('<failure')).length;
  const skipped = cases.filter((c) => c.includes('<skipped')).length;
  const time = seconds(report.experiments.reduce((s, e) => s + (e.durationMs ?? 0), 0));
  const attrs = `tests="${cases.length}" failures="${failures}" errors="0" skipped="${skipped}" time="${time}"`;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="ptg" ${attrs}>`,
    `  <testsuite name="ptg ${xml(report.version)} ${xml(report.runId)}" ${attrs} timestamp="${xml(report.date.replace(/\.\d+Z$/, ''))}">`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}

function failedChecks(e: ReportExperiment) {
  return Object.entries(e.checks).filter(([, c]) => c.passed === false);
}
