import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";

/**
 * Throwaway network namespaces for tests. Every name starts with `strata-t-`, the test run's id
 * (STRATA_TEST_RUN, set by scripts/run-tests.mjs) and the test's own prefix, so a crashed run's
 * leftovers can be found and removed without touching those of another run going on at the same time.
 */
export const testNetnsPrefix = `strata-t-${process.env.STRATA_TEST_RUN ?? "x"}-`;

export class TestNamespaces {
  readonly names: string[] = [];
  constructor(private readonly prefix: string) {}

  /** Create a namespace with loopback up and return its name. */
  create(label = "ns"): string {
    const name = `${testNetnsPrefix}${this.prefix}-${label}-${randomBytes(3).toString("hex")}`;
    execFileSync("ip", ["netns", "add", name]);
    this.names.push(name);
    execFileSync("ip", ["-n", name, "link", "set", "lo", "up"]);
    return name;
  }

  path(name: string): string {
    return `/run/netns/${name}`;
  }

  /** Delete every namespace this fixture made; safe to call twice. */
  cleanup(): void {
    for (const name of this.names.splice(0)) {
      try {
        execFileSync("ip", ["netns", "del", name], { stdio: "ignore" });
      } catch {
        // already gone
      }
    }
  }
}

/** Run `fn` with a fresh fixture and always clean up, also when `fn` throws. */
export async function withNamespaces<T>(prefix: string, fn: (ns: TestNamespaces) => Promise<T>): Promise<T> {
  const ns = new TestNamespaces(prefix);
  try {
    return await fn(ns);
  } finally {
    ns.cleanup();
  }
}

/** Run a command inside a namespace and return stdout (throws on non-zero exit). */
export function inNetns(name: string, argv: string[]): string {
  return execFileSync("ip", ["netns", "exec", name, ...argv], { encoding: "utf8" });
}
