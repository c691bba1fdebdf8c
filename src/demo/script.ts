// What the scripted model says in `ptg demo`: examples/scripted-model/script.json, read and
// checked here, turned into the model server's steps per conversation.
import path from 'node:path';
import fs from 'fs-extra';
import { z } from 'zod';
import { PtgError } from '../errors.js';
import type { ConversationInfo, Script, Step, Usage } from './model-server.js';

const UsageSchema = z.strictObject({
  input_tokens: z.number().int().nonnegative(),
  output_tokens: z.number().int().nonnegative(),
  cache_creation_input_tokens: z.number().int().nonnegative().optional(),
  cache_read_input_tokens: z.number().int().nonnegative().optional(),
});

const StepSchema = z.union([
  z.strictObject({ write: z.strictObject({ path: z.string().min(1), file: z.string().min(1) }) }),
  z.strictObject({ bash: z.string().min(1) }),
  z.strictObject({ text: z.string() }),
  z.strictObject({ error: z.number().int(), message: z.string().optional() }),
]);

const ScriptSchema = z.strictObject({
  about: z.string().optional(),
  usage: UsageSchema,
  answers: z.record(z.string(), z.record(z.string(), z.strictObject({ steps: z.array(StepSchema), final: z.string().optional() }))),
});

/** Steps of one version on one STP, with the files' contents read in. */
export interface DemoAnswer {
  steps: Step[];
  final?: string;
}

export interface DemoScript {
  usage: Usage;
  /** version -> STP id -> answer */
  answers: Map<string, Map<string, DemoAnswer>>;
}

/** Reads script.json and every file it names; a mistake in it is a clear error, not a half demo. */
export async function loadDemoScript(file: string): Promise<DemoScript> {
  let raw: unknown;
  try {
    raw = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch (error) {
    throw new PtgError(`Cannot read the demo's model script ${file}: ${(error as Error).message}`);
  }
  const parsed = ScriptSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new PtgError(`${file}: "${issue.path.join('.')}": ${issue.message}.`);
  }
  const dir = path.dirname(file);
  const answers = new Map<string, Map<string, DemoAnswer>>();
  for (const [version, byStp] of Object.entries(parsed.data.answers)) {
    const stps = new Map<string, DemoAnswer>();
    for (const [stp, answer] of Object.entries(byStp)) {
      const steps: Step[] = [];
      for (const step of answer.steps) {
        if ('write' in step) {
          const content = await fs.readFile(path.join(dir, step.write.file), 'utf8');
          steps.push({ write: { path: step.write.path, content } });
        } else steps.push(step);
      }
      stps.set(stp, { steps, final: answer.final });
    }
    answers.set(version, stps);
  }
  return { usage: parsed.data.usage, answers };
}

/**
 * Which version and STP a conversation is about, from the first user message: an orchestrated
 * version's slash command arrives expanded with `<command-name>/<v>-orchestrator</command-name>`;
 * a monolithic prompt does not name its version, so it is `monolithic`.
 */
export function conversationOf(firstUserText: string, monolithic: string): { version: string; stp?: string } {
  const command = /<command-name>\/(v[\w.-]*)-orchestrator<\/command-name>/.exec(firstUserText);
  const stpFile = /STP file(?: path)?: (\S+?\.md)\b/i.exec(firstUserText);
  return { version: command?.[1] ?? monolithic, stp: stpFile ? path.basename(stpFile[1]!, '.md') : undefined };
}

/** The model server's script: each conversation gets its version's answer for its STP (no steps if unknown). */
export function demoConversation(script: DemoScript, monolithic: string): (info: ConversationInfo) => Omit<Script, 'match'> {
  return (info) => {
    const { version, stp } = conversationOf(info.firstUserText, monolithic);
    const answer = stp ? script.answers.get(version)?.get(stp) : undefined;
    return { steps: answer?.steps ?? [], final: answer?.final, usage: script.usage };
  };
}
