import type { Verdict } from "./verdict.js";

/** Pure: one line per verdict: node, check, ok or the problem, and on the next line the fix. */
export function formatVerdicts(verdicts: readonly Verdict[]): string {
  const lines: string[] = [];
  for (const v of verdicts) {
    const mark = v.skipped ? "skip" : v.ok ? "ok" : "FAIL";
    lines.push(`${v.node.padEnd(4)} ${v.check.padEnd(16)} ${mark.padEnd(4)} ${v.text}`);
    if (!v.ok && v.fix) lines.push(`${" ".repeat(27)}fix: ${v.fix}`);
  }
  const bad = verdicts.filter((v) => !v.ok).length;
  lines.push(
    bad === 0
      ? `\nall ${verdicts.length} checks ok ✔`
      : `\n${bad} of ${verdicts.length} checks found a problem ✘`,
  );
  return lines.join("\n");
}
