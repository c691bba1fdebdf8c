// Issue 13: checks (pyright and pytest-collect) on a 1,000-file repository. Seven experiments
// whose agents end 1 s apart: ptg runs each one's checks as soon as its agent ends, while the
// others still run, at most one per core. Beside it: the same checks one after another once every
// agent has ended (a run without checks, then `ptg verify --check-concurrency 1`, the way a
// script runs pyright after the fact), and all seven at once with no limit.
import path from 'node:path';
import fs from 'fs-extra';
import { type Benchmark, FAKE_AGENT, fmt, goal, makeBigRepo, median, medianRatio, ptgOk, removeDir, table, tmpDir } from './support.js';

const STPS = 7;
const CHECKS = ['pyright', 'pytest-collect'];

/** A generated test that imports from the target, as a real one would, and collects. */
function stp(id: string): string {
  const test = `import os\nimport pytest\n\n\n@pytest.mark.parametrize("n", range(5))\ndef test_stp_${id}(n):\n    assert os.path.sep and n >= 0\n`;
  return `# STP ${id}\nfake: sleep ${Number(id) * 1000}\nfake: write tests/test_generated_${id}.py ${JSON.stringify(test)}\n`;
}

export const checksBench: Benchmark = {
  name: 'checks',
  title: `checks: ${CHECKS.join(' + ')} for ${STPS} experiments on a 1,000-file repository, while agents run vs one after another (issue 13)`,
  async run(ctx) {
    const dir = tmpDir();
    try {
      const repo = makeBigRepo(dir, { files: 1000, mb: 8 });
      const root = path.join(dir, 'root');
      for (let i = 1; i <= STPS; i++) fs.outputFileSync(path.join(root, 'stps', `${i}.md`), stp(String(i)));
      fs.outputFileSync(path.join(root, 'v1', 'prompt.md'), 'Write pytest tests for this plan:\n${STP_CONTENT}\n');
      const config = (checks: string[]) => fs.writeJsonSync(path.join(root, 'ptg.config.json'), { checks });
      await ptgOk(['setup', '--repo', repo.url, '--no-python'], { cwd: root });
      ctx.log(`${repo.files} files in the target; agents end 1 s apart (1 s … ${STPS} s); checks: ${CHECKS.join(', ')}; ${ctx.reps} rep(s), medians`);

      const t = { overlap: [] as number[], serial: [] as number[], unlimited: [] as number[], agentsOnly: [] as number[] };
      const cpu = { overlap: [] as number[], serial: [] as number[], unlimited: [] as number[] };
      const runWith = async (key: 'overlap' | 'unlimited', extra: string[]) => {
        config(CHECKS);
        const r = await ptgOk(['run', 'v1', '--agent', FAKE_AGENT, ...extra], { cwd: root });
        t[key].push(r.wallMs);
        cpu[key].push(r.cpuMs ?? NaN);
      };
      const serial = async () => {
        config([]);
        const run = await ptgOk(['run', 'v1', '--agent', FAKE_AGENT], { cwd: root });
        config(CHECKS);
        const verify = await ptgOk(['verify', 'v1', '--check-concurrency', '1'], { cwd: root });
        t.agentsOnly.push(run.wallMs);
        t.serial.push(run.wallMs + verify.wallMs);
        cpu.serial.push((run.cpuMs ?? NaN) + (verify.cpuMs ?? NaN));
      };
      const steps = [() => runWith('overlap', []), serial, () => runWith('unlimited', ['--check-concurrency', String(STPS)])];
      for (let rep = 0; rep < ctx.reps; rep++) {
        for (const step of rep % 2 === 0 ? steps : [...steps].reverse()) await step();
      }

      const row = (what: string, wall: number[], cpuMs: number[]) => [what, fmt.s(median(wall)), fmt.x(medianRatio(wall, t.serial)), fmt.s(median(cpuMs))];
      for (const line of table(
        ['', 'wall', '× serial', 'CPU'],
        [
          row(`agents alone (${STPS} s for the last), no checks`, t.agentsOnly, t.agentsOnly.map(() => NaN)),
          row('checks one after another once all agents ended', t.serial, cpu.serial),
          row('ptg run: checks as agents end, one per core', t.overlap, cpu.overlap),
          row(`ptg run: checks as agents end, ${STPS} at once`, t.unlimited, cpu.unlimited),
        ],
      )) ctx.log(line);
      ctx.log('CPU: user + system of ptg and every process it waited for (/usr/bin/time %U + %S).');
      const ratio = medianRatio(t.overlap, t.serial);
      return [goal(`checks: ${STPS} experiments' ${CHECKS.join(' + ')} while agents run, wall vs one after another`, `${fmt.x(ratio)} (${fmt.s(median(t.overlap))} vs ${fmt.s(median(t.serial))})`, '< 1×', ratio < 1)];
    } finally {
      removeDir(dir);
    }
  },
};
