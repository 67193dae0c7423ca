import { outerText } from "./encapsulations.js";
import { explainStop } from "./stop-reasons.js";
import type { TraceHop, TraceReport } from "./trace-model.js";

function hopLine(i: number, h: TraceHop): string[] {
  const seen = h.seen ? "seen" : "-";
  const devs = `${h.inDev ?? ""} → ${h.outDev ?? ""}`.trim();
  const addrs = h.outer && h.action !== "encapsulate" ? `[${outerText(h.outer)}]` : `${h.src} → ${h.dst}`;
  const lines = [
    `${String(i + 1).padStart(2)}  ${seen.padEnd(5)} ${h.place.padEnd(9)} ${h.action.padEnd(11)} ${devs.padEnd(30)} ${addrs}`,
    `${" ".repeat(19)}by: ${h.decidedBy}`,
  ];
  if (h.action === "encapsulate" && h.outer) lines.push(`${" ".repeat(19)}outer: ${outerText(h.outer)}`);
  const captured = h.sightings.find((s) => s.outer);
  if (captured?.outer)
    lines.push(`${" ".repeat(19)}captured on ${captured.dev}: ${outerText(captured.outer)}`);
  return lines;
}

/** Pure: the plain text view of a trace, for people. */
export function formatTrace(r: TraceReport): string {
  const p = r.packet;
  // IPv6 has no DF bit: no router on the way fragments an IPv6 packet, so it is DF in effect.
  const what = `${p.proto}${p.port ? `/${p.port}` : ""} ${p.size} B, ${p.dst.includes(":") ? "IPv6 (never fragmented)" : "DF"}`;
  const out = [
    `trace ${r.from} (${p.src === r.fromAddress ? p.src : `${r.fromAddress}, sending as ${p.src}`}) → ${r.to} (${p.dst}), ${what} · ${r.model} on ${r.underlay}`,
    "",
    ` #  probe place     action      in → out                       addresses`,
  ];
  out.push(...r.hops.flatMap((h, i) => hopLine(i, h)));
  out.push("");
  if (r.delivered) {
    const unseen = r.hops.filter((h) => !h.seen).length;
    out.push(`delivered ✔ — ${unseen === 0 ? "every hop seen" : `${unseen} hop(s) not seen by the capture`}`);
  }
  if (r.stop) {
    const e = explainStop(r.stop);
    const at = r.hops.findIndex((h) => h.stop);
    out.push(`stopped${at >= 0 ? ` at hop ${at + 1}` : ""} ✘ ${e.text}`, `  fix: ${e.fix}`);
  }
  const t = r.timings;
  out.push(
    `(predict ${t.predictMs.toFixed(0)} ms, prove ${t.proveMs.toFixed(0)} ms, total ${t.totalMs.toFixed(0)} ms)`,
  );
  return out.join("\n");
}
