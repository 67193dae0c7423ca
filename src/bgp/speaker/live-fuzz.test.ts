import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { after, before, test } from "node:test";
import { mutatedMessage, seedMessages } from "../../../test/support/bgp-fuzz-corpus.js";
import { prng } from "../../../test/support/prng.js";
import { BgpCodecError } from "../codec/errors.js";
import { BgpFrameParser } from "../codec/framing.js";
import { decodeMessage, encodeMessage } from "../codec/messages.js";
import type { BgpMessage } from "../codec/types.js";
import { BgpSpeaker } from "./speaker.js";

const ctx = { fourOctetAs: true };
type Expect = "accepted" | "closed" | `${number}/${number}`;

/**
 * What a session in Established must do with these bytes (RFC 4271 §6, §8.2.2; RFC 7606): keep
 * going, close on the peer's NOTIFICATION, or answer with NOTIFICATION code/subcode. Undefined
 * when the bytes are not one whole frame (the speaker would wait for more).
 */
function expected(m: Uint8Array): Expect | undefined {
  const parser = new BgpFrameParser();
  let frames: Uint8Array[];
  try {
    frames = parser.push(m);
  } catch (e) {
    if (e instanceof BgpCodecError) return `${e.errorCode}/${e.subcode}`;
    throw e;
  }
  if (frames.length !== 1 || parser.pending !== 0) return undefined;
  let msg: BgpMessage;
  try {
    msg = decodeMessage(frames[0] as Uint8Array, ctx);
  } catch (e) {
    if (!(e instanceof BgpCodecError)) throw e;
    // Any OPEN, good or bad, is unexpected once Established: FSM error (RFC 6608 subcode 3).
    return e.errorCode === 2 ? "5/3" : `${e.errorCode}/${e.subcode}`;
  }
  if (msg.type === "open") return "5/3";
  if (msg.type === "notification") return "closed";
  return "accepted";
}

/** One session from the fuzzer's side: OPEN, KEEPALIVE, then `payload`; resolves with what came back. */
function session(port: number, payload: Uint8Array[]): Promise<BgpMessage[]> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect({ host: "127.0.0.71", port, localAddress: "127.0.0.72" });
    const parser = new BgpFrameParser();
    const got: BgpMessage[] = [];
    let sent = false;
    socket.on("connect", () => {
      const open: BgpMessage = {
        type: "open",
        version: 4,
        asn: 64513,
        holdTime: 0,
        bgpId: "10.0.0.72",
        capabilities: [
          { kind: "multiprotocol", afi: 1, safi: 1 },
          { kind: "four-octet-as", asn: 64513 },
        ],
      };
      socket.write(encodeMessage(open, ctx));
      socket.write(encodeMessage({ type: "keepalive" }, ctx));
    });
    socket.on("data", (chunk) => {
      for (const f of parser.push(chunk)) got.push(decodeMessage(f, ctx));
      // Established once its OPEN and KEEPALIVE are in: now the fuzz.
      if (!sent && got.length >= 2) {
        sent = true;
        socket.end(Buffer.concat(payload));
      }
    });
    socket.on("error", reject);
    socket.on("close", () => resolve(got));
  });
}

const speaker = new BgpSpeaker({
  asn: 64512,
  routerId: "10.0.0.71",
  holdTime: 90,
  connectRetrySeconds: 1,
  listen: { host: "127.0.0.71", port: 0 },
});
before(() => speaker.start([{ address: "127.0.0.72", asn: 64513, passive: true }]));
after(() => speaker.stop());

test("live session fuzz: ≥100,000 random and mutated messages, the right NOTIFICATION every time", async (t) => {
  const r = prng(4271);
  const seeds = seedMessages(r);
  const port = speaker.port as number;
  const codes = new Map<string, number>();
  let messages = 0;
  let sessions = 0;
  const accepted: Uint8Array[] = [];
  while (messages < 100_000) {
    const m = mutatedMessage(r, seeds);
    const want = expected(m);
    if (want === undefined) continue;
    if (want === "accepted") {
      accepted.push(m);
      continue;
    }
    if (accepted.length < 200) continue;
    // A session carries 200 messages a speaker must accept, then one that ends it.
    const payload = [...accepted.splice(0, 200), m];
    const got = await session(port, payload);
    messages += payload.length;
    sessions++;
    const notification = got.find((g) => g.type === "notification");
    const seen = notification ? `${notification.code}/${notification.subcode}` : "closed";
    assert.equal(seen, want, `session ${sessions}: ${Buffer.from(m).toString("hex")}`);
    codes.set(want, (codes.get(want) ?? 0) + 1);
  }
  // The speaker is still here and still takes a clean session.
  const clean = await session(port, [
    encodeMessage({ type: "notification", code: 6, subcode: 2, data: new Uint8Array() }, ctx),
  ]);
  assert.equal(clean.filter((g) => g.type === "notification").length, 0);
  t.diagnostic(
    `${messages} messages in ${sessions} sessions; endings: ${JSON.stringify(Object.fromEntries(codes))}`,
  );
  assert.ok(sessions >= 400, `${sessions} sessions`);
  assert.ok(codes.size >= 5, `outcomes seen: ${[...codes.keys()].join(" ")}`);
  for (const code of ["1/", "3/", "5/3"])
    assert.ok(
      [...codes.keys()].some((k) => k.startsWith(code)),
      code,
    );
});
