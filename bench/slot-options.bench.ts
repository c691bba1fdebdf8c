// Issue 2: "measure the options and choose". Seven slots made from one bare mirror, four ways:
// full copies (--no-local: what N transfers would store), local clones (hard-linked objects:
// what ptg does), --shared clones (alternates) and worktrees. Also whether a branch made in one
// slot shows in another: the isolation an agent needs.
import path from 'node:path';
import fs from 'fs-extra';
import { bash, type Benchmark, duKb, fmt, git, makeBigRepo, median, removeDir, settle, table, tmpDir } from './support.js';

const SLOTS = 7;

const OPTIONS: { name: string; make: (mirror: string, out: string) => string }[] = [
  { name: 'git clone --no-local (full copies)', make: (m, o) => `for i in $(seq 1 ${SLOTS}); do git clone -q --no-local '${m}' '${o}'/$i; done` },
  { name: 'git clone (local: hard-linked objects) — ptg', make: (m, o) => `for i in $(seq 1 ${SLOTS}); do git clone -q '${m}' '${o}'/$i; done` },
  { name: 'git clone --shared (alternates)', make: (m, o) => `for i in $(seq 1 ${SLOTS}); do git clone -q --shared '${m}' '${o}'/$i; done` },
  { name: 'git worktree add --detach', make: (m, o) => `for i in $(seq 1 ${SLOTS}); do git -C '${m}' worktree add -q --detach '${o}'/$i HEAD; done` },
];

export const slotOptionsBench: Benchmark = {
  name: 'slot-options',
  title: `slot options: ${SLOTS} slots from one bare mirror, four ways (issue 2)`,
  async run(ctx) {
    const dir = tmpDir();
    try {
      const repo = makeBigRepo(dir, { files: 1000, mb: 20, packed: true });
      const rows: string[][] = [];
      for (const option of OPTIONS) {
        const walls: number[] = [];
        let disk = 0;
        let shared = false;
        for (let rep = 0; rep < ctx.reps; rep++) {
          const mirror = path.join(dir, `mirror-${rep}.git`);
          const out = path.join(dir, `out-${rep}`);
          git(dir, 'clone', '-q', '--bare', repo.bare, mirror);
          fs.ensureDirSync(out);
          settle();
          walls.push((await bash(option.make(mirror, out), { cwd: dir })).wallMs);
          // Disk of the slots and the mirror together: hard links count once.
          disk = duKb(mirror, out);
          git(path.join(out, '1'), 'branch', 'made-in-slot-1');
          shared = git(path.join(out, '2'), 'branch', '--list', 'made-in-slot-1') !== '';
          removeDir(out);
          removeDir(mirror);
        }
        rows.push([option.name, fmt.s(median(walls)), fmt.mb(disk), shared ? 'no: branches are shared' : 'yes']);
      }
      for (const line of table(['', 'wall', 'disk with the mirror', 'isolated'], rows)) ctx.log(line);
      ctx.log('--shared clones are isolated too, but their objects live in the mirror: a gc or re-fetch there can break every slot.');
      return [];
    } finally {
      removeDir(dir);
    }
  },
};
