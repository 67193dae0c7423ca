import type { PluginRunner } from "./skeleton.js";

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** The executable entry of a plugin: process env + stdin in, result or error object out. */
export async function runPluginProcess(run: PluginRunner): Promise<void> {
  const stdin = process.stdin.isTTY ? "" : await readStdin();
  const outcome = await run({ env: process.env, stdin });
  if (outcome.stdout) process.stdout.write(outcome.stdout);
  if (outcome.stderr) process.stderr.write(outcome.stderr);
  process.exitCode = outcome.exitCode;
}
