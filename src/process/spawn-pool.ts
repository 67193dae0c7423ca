import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import type { ProgramResult, ProgramRunner } from "./run-program.js";

interface Job {
  readonly request: Buffer;
  readonly resolve: (r: ProgramResult) => void;
  readonly reject: (e: Error) => void;
}

/** Where and with what a program runs (an extended request of the helper). */
export interface SpawnPlace {
  /** The program's whole environment (absent: this process's). */
  readonly env?: Readonly<Record<string, string>>;
  /** A network namespace file to run it in (absent: the helper's own namespace). */
  readonly netns?: string;
}

/** Encode one request for src/shim/spawn-helper.c (extended when `place` names an env or a namespace). */
export function encodeSpawnRequest(argv: readonly string[], input = "", place: SpawnPlace = {}): Buffer {
  const parts: Buffer[] = [];
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n >>> 0);
    return b;
  };
  const str = (t: string) => Buffer.from(`${t}\0`, "utf8");
  const extended = place.env !== undefined || place.netns !== undefined;
  parts.push(u32(extended ? (argv.length | 0x80000000) >>> 0 : argv.length));
  for (const a of argv) parts.push(str(a));
  if (extended) {
    const env = Object.entries(place.env ?? process.env).filter(
      (e): e is [string, string] => e[1] !== undefined,
    );
    parts.push(u32(env.length), ...env.map(([k, v]) => str(`${k}=${v}`)), str(place.netns ?? ""));
  }
  const inp = Buffer.from(input, "utf8");
  parts.push(u32(inp.length), inp);
  return Buffer.concat(parts);
}

/** Decode one reply if `buf` holds a whole one: the result and the bytes it used. */
export function decodeSpawnReply(buf: Buffer): { result: ProgramResult; used: number } | undefined {
  if (buf.length < 8) return undefined;
  const code = buf.readInt32LE(0);
  const outLen = buf.readUInt32LE(4);
  if (buf.length < 8 + outLen + 4) return undefined;
  const errLen = buf.readUInt32LE(8 + outLen);
  const used = 12 + outLen + errLen;
  if (buf.length < used) return undefined;
  return {
    result: {
      code,
      stdout: buf.subarray(8, 8 + outLen).toString("utf8"),
      stderr: buf.subarray(12 + outLen, used).toString("utf8"),
    },
    used,
  };
}

class Helper {
  readonly #proc: ChildProcessWithoutNullStreams;
  #pending: Buffer = Buffer.alloc(0);
  #job: Job | undefined;
  #dead = false;

  constructor(
    path: string,
    private readonly onIdle: (h: Helper) => void,
  ) {
    this.#proc = spawn(path, [], { stdio: ["pipe", "pipe", "pipe"] });
    this.#proc.stdout.on("data", (d: Buffer) => this.#onData(d));
    this.#proc.on("exit", () => this.#fail(new Error("spawn helper exited")));
    this.#proc.on("error", (e) => this.#fail(e));
    this.#proc.stdin.on("error", (e) => this.#fail(e));
  }

  get busy(): boolean {
    return this.#job !== undefined;
  }
  get dead(): boolean {
    return this.#dead;
  }

  start(job: Job): void {
    this.#job = job;
    this.#proc.stdin.write(job.request);
  }

  close(): void {
    this.#dead = true;
    this.#proc.stdin.end();
  }

  #onData(d: Buffer): void {
    this.#pending = Buffer.concat([this.#pending, d]);
    const reply = decodeSpawnReply(this.#pending);
    if (!reply) return;
    this.#pending = this.#pending.subarray(reply.used);
    const job = this.#job;
    this.#job = undefined;
    job?.resolve(reply.result);
    this.onIdle(this);
  }

  #fail(e: Error): void {
    this.#dead = true;
    const job = this.#job;
    this.#job = undefined;
    job?.reject(e);
  }
}

/**
 * A pool of spawn helpers (src/shim/spawn-helper.c): a resident process with a large heap runs
 * programs through them instead of forking itself. Falls back to `fallback` when a helper dies.
 */
export class SpawnPool {
  readonly #helpers: Helper[] = [];
  readonly #queue: Job[] = [];

  constructor(
    private readonly helperPath: string,
    size: number,
    private readonly fallback: ProgramRunner,
  ) {
    for (let i = 0; i < size; i++) this.#helpers.push(this.#newHelper());
  }

  #newHelper(): Helper {
    return new Helper(this.helperPath, (h) => this.#next(h));
  }

  #next(h: Helper): void {
    const job = this.#queue.shift();
    if (job && !h.dead) h.start(job);
  }

  readonly run: ProgramRunner = (argv, opts = {}) => this.runIn(argv, opts);

  /**
   * Run a program with an environment of its own and/or in another network namespace, as a
   * runtime runs a CNI plugin. When a helper dies the fallback runs it (entering the namespace
   * through nsenter, with `env -i` for the environment).
   */
  runIn(argv: readonly string[], opts: { input?: string } & SpawnPlace = {}): Promise<ProgramResult> {
    return new Promise<ProgramResult>((resolve, reject) => {
      const fallback = () => {
        const env = opts.env ? ["env", "-i", ...Object.entries(opts.env).map(([k, v]) => `${k}=${v}`)] : [];
        const ns = opts.netns !== undefined ? ["nsenter", `--net=${opts.netns}`] : [];
        return this.fallback([...ns, ...env, ...argv], opts.input === undefined ? {} : { input: opts.input });
      };
      const job: Job = {
        request: encodeSpawnRequest(argv, opts.input, opts),
        resolve,
        reject: () => fallback().then(resolve, reject),
      };
      for (const [i, h] of this.#helpers.entries()) {
        if (h.dead) this.#helpers[i] = this.#newHelper();
      }
      const idle = this.#helpers.find((h) => !h.busy && !h.dead);
      if (idle) idle.start(job);
      else this.#queue.push(job);
    });
  }

  close(): void {
    for (const h of this.#helpers) h.close();
  }
}
