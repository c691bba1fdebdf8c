// Preloaded into the measured ptg process only (`node --import <this> bin/ptg.js ...`): at exit it
// writes the process's own peak resident set (getrusage RUSAGE_SELF, KB) to $PTG_BENCH_RSS_FILE.
// /usr/bin/time's %M is the larger of ptg and every child it waited for (agents, git), so this
// is the only figure that is ptg's alone. The variable is removed at once: agents inherit ptg's env.
import { writeFileSync } from 'node:fs';

const file = process.env.PTG_BENCH_RSS_FILE;
delete process.env.PTG_BENCH_RSS_FILE;
if (file) {
  process.on('exit', () => {
    try {
      writeFileSync(file, String(process.resourceUsage().maxRSS));
    } catch {
      // the bench reports the figure as missing
    }
  });
}
