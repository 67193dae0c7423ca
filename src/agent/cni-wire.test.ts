import assert from "node:assert/strict";
import { test } from "node:test";
import { CniError, CniErrorCode } from "../cni/errors.js";
import {
  agentRequestEnv,
  decodeShimReply,
  decodeShimRequest,
  encodeShimErrorReply,
  encodeShimReply,
  encodeShimRequest,
  ShimWireError,
} from "./cni-wire.js";

test("a shim request round-trips, including = and ; inside values and UTF-8 stdin", () => {
  const req = {
    type: "strata",
    env: { CNI_COMMAND: "ADD", CNI_ARGS: "K8S_POD_NAME=a=b;X=ü", CNI_PATH: "/opt/cni/bin" },
    stdin: '{"name":"ñet"}',
  };
  assert.deepEqual(decodeShimRequest(encodeShimRequest(req)), req);
});

test("a reply keeps stdout and stderr apart by the byte length in its header", () => {
  const buf = encodeShimReply(1, '{"code":7,"msg":"é"}\n', "trace\n");
  assert.deepEqual(decodeShimReply(buf), {
    exitCode: 1,
    stdout: '{"code":7,"msg":"é"}\n',
    stderr: "trace\n",
  });
});

test("a request without the header or with an unterminated env block is refused", () => {
  assert.throws(() => decodeShimRequest(Buffer.from("GET / HTTP/1.1\r\n")), ShimWireError);
  assert.throws(() => decodeShimRequest(Buffer.from("STRATA-CNI 1\nstrata\nCNI_COMMAND=ADD")), ShimWireError);
});

test("a request runs with its per-call CNI variables only, and the agent's own CNI_PATH", () => {
  const env = agentRequestEnv(
    {
      CNI_COMMAND: "ADD",
      CNI_CONTAINERID: "c1",
      CNI_NETNS: "/run/netns/p1",
      CNI_IFNAME: "eth0",
      CNI_ARGS: "K8S_POD_NAME=a",
      CNI_PATH: "/home/mallory/bin",
      LD_PRELOAD: "/home/mallory/evil.so",
      PATH: "/home/mallory/bin",
      STRATA_FAULT_CRASH_AFTER: "veth",
    },
    ["/opt/cni/bin"],
  );
  assert.deepEqual(env, {
    CNI_COMMAND: "ADD",
    CNI_CONTAINERID: "c1",
    CNI_NETNS: "/run/netns/p1",
    CNI_IFNAME: "eth0",
    CNI_ARGS: "K8S_POD_NAME=a",
    CNI_PATH: "/opt/cni/bin",
  });
});

test("the agent's own error reply is the CniError's spec object on stdout, exit code 1", () => {
  const err = new CniError(
    CniErrorCode.TryAgainLater,
    "the strata agent is busy",
    "64 requests are in flight",
  );
  const reply = decodeShimReply(encodeShimErrorReply(err));
  assert.equal(reply.exitCode, 1);
  assert.equal(reply.stderr, "");
  assert.ok(reply.stdout.endsWith("\n"), "one JSON line, as a plugin prints it");
  assert.deepEqual(JSON.parse(reply.stdout), {
    cniVersion: "1.1.0",
    code: 11,
    msg: "the strata agent is busy",
    details: "64 requests are in flight",
  });
  const v040 = JSON.parse(decodeShimReply(encodeShimErrorReply(err, "0.4.0")).stdout) as {
    cniVersion: string;
  };
  assert.equal(v040.cniVersion, "0.4.0");
});
