import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { connect, createServer } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { repoRoot } from "../../test/support/cni.js";
import { BgpFrameParser } from "../bgp/codec/framing.js";
import { encodeMessage } from "../bgp/codec/messages.js";

const ctx = { fourOctetAs: true };

/** A free loopback port (taken and given back: the speaker listens on it next). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/**
 * One dial, as a peer with a long connect-retry timer makes it (BIRD's is 120 s): OPEN, KEEPALIVE
 * for the speaker's OPEN, resolved at the speaker's KEEPALIVE (Established on both sides). A
 * refused connection rejects at once: there is no second try.
 */
function dialOnce(port: number, timeoutMs: number): Promise<{ ms: number; close: () => void }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no session within ${timeoutMs} ms`));
    }, timeoutMs);
    const parser = new BgpFrameParser();
    socket.on("connect", () =>
      socket.write(
        encodeMessage(
          {
            type: "open",
            version: 4,
            asn: 65001,
            holdTime: 90,
            bgpId: "10.0.0.2",
            capabilities: [
              { kind: "multiprotocol", afi: 1, safi: 1 },
              { kind: "four-octet-as", asn: 65001 },
            ],
          },
          ctx,
        ),
      ),
    );
    socket.on("data", (chunk: Buffer) => {
      for (const f of parser.push(chunk)) {
        if (f[18] === 1) socket.write(encodeMessage({ type: "keepalive" }, ctx));
        else if (f[18] === 4) {
          clearTimeout(timer);
          resolve({ ms: performance.now() - started, close: () => socket.destroy() });
        }
      }
    });
    socket.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

test("bgp-speaker warms up by default after it listens: a peer dialling once during the warm-up is Established before it ends", async () => {
  const port = await freePort();
  const proc = spawn(
    process.execPath,
    [
      ...[join(repoRoot, "bin/strata.js"), "bgp-speaker", "--asn", "65000", "--router-id", "10.0.0.1"],
      ...["--listen", `127.0.0.1:${port}`, "--peer", "127.0.0.1,as=65001,passive", "--quiet"],
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const lines: { event: string; [k: string]: unknown }[] = [];
  let session: Promise<{ ms: number; close: () => void }> | undefined;
  const warmedUp = new Promise<void>((resolve, reject) => {
    let rest = "";
    proc.stdout?.setEncoding("utf8").on("data", (d: string) => {
      const all = (rest + d).split("\n");
      rest = all.pop() ?? "";
      for (const l of all.filter(Boolean)) {
        const line = JSON.parse(l) as { event: string };
        lines.push(line);
        // The peer dials the moment the warm-up starts (and only then), once.
        if (line.event === "warming-up") session = dialOnce(port, 3000);
        if (line.event === "warmed-up") resolve();
      }
    });
    proc.once("exit", (code) => reject(new Error(`bgp-speaker exited (${code}): ${JSON.stringify(lines)}`)));
  });
  try {
    await warmedUp;
    assert.ok(session, "the speaker said it was warming up");
    const { ms, close } = await session;
    close();
    const events = lines.map((l) => l.event);
    assert.ok(events.indexOf("listening") < events.indexOf("warming-up"), events.join(" "));
    // Served while the warm-up ran (its socket events interleave), not after it: well under any
    // connect-retry timer.
    assert.ok(
      events.indexOf("established") >= 0 && events.indexOf("established") < events.indexOf("warmed-up"),
      `Established during the warm-up: ${events.join(" ")}`,
    );
    assert.ok(ms < 2000, `Established ${ms.toFixed(0)} ms after the dial`);
    const w = lines.find((l) => l.event === "warmed-up");
    assert.equal(w?.skipped, undefined, "the warm-up ran through");
    assert.ok(Number(w?.routesReflected) > 0);
  } finally {
    proc.kill("SIGTERM");
  }
});

test("bgp-speaker --no-warm-up starts cold: listening, no warm-up", async () => {
  const port = await freePort();
  const proc = spawn(
    process.execPath,
    [
      ...[join(repoRoot, "bin/strata.js"), "bgp-speaker", "--asn", "65000", "--router-id", "10.0.0.1"],
      ...["--listen", `127.0.0.1:${port}`, "--no-warm-up"],
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  let out = "";
  try {
    // A summary line comes a second after listening: by then a warm-up would have said so.
    await new Promise<void>((resolve, reject) => {
      proc.stdout?.setEncoding("utf8").on("data", (d: string) => {
        out += d;
        if (out.includes('"event":"summary"')) resolve();
      });
      proc.once("exit", (code) => reject(new Error(`bgp-speaker exited (${code}): ${out}`)));
    });
    assert.match(out, /"event":"listening"/);
    assert.doesNotMatch(out, /warm/);
  } finally {
    proc.kill("SIGTERM");
  }
});
