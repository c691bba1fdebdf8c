// The schema of ptg.config.json: one zod schema is its validation and its type. Loaded only
// when a root has a config file, so commands start without zod.
import { z } from 'zod';

export const Config = z.strictObject({
  repo: z.string().min(1).optional(),
  ref: z.string().min(1).optional(),
  workspace: z.string().min(1).optional(),
  /** false: no Python environment; a list: shell commands run in each slot instead of the default. */
  python: z.union([z.literal(false), z.array(z.string().min(1))]).optional(),
  agent: z
    .strictObject({
      command: z.string().min(1).optional(),
      args: z.array(z.string()).optional(),
    })
    .optional(),
  concurrency: z.number().int().positive().optional(),
  /** A duration such as "90s", "30m", "2h", or a number of seconds. */
  timeout: z.union([z.string().min(1), z.number().positive()]).optional(),
  /** Ends an agent that printed nothing for this long (Claude Code can stall): "5m", or seconds. */
  idleTimeout: z.union([z.string().min(1), z.number().positive()]).optional(),
  prompts: z
    .strictObject({
      /** Replaces `/${VERSION}-orchestrator STP file path: ${STP_PATH}`. */
      orchestrated: z.string().min(1).optional(),
      /** The line appended to a monolithic prompt; default `STP File: ${STP_PATH}`. */
      stpFileLine: z.string().optional(),
    })
    .optional(),
});

export type Config = z.infer<typeof Config>;
