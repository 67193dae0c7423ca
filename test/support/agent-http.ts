import { execFileSync } from "node:child_process";

/**
 * GET a path of an agent's local HTTP port (127.0.0.1 inside its node namespace), whatever the
 * status: a 503 carries the reasons. curl, so no Node start-up per call. Status 0: nothing answered.
 */
export function getInNetns(ns: string, path: string, port = 9947): { status: number; text: string } {
  let out: string;
  try {
    out = execFileSync(
      "ip",
      [
        "netns",
        "exec",
        ns,
        "curl",
        "-s",
        "--max-time",
        "2",
        "-w",
        "\n%{http_code}",
        `http://127.0.0.1:${port}${path}`,
      ],
      { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] },
    );
  } catch {
    return { status: 0, text: "" };
  }
  const nl = out.lastIndexOf("\n");
  return { status: Number(out.slice(nl + 1)) || 0, text: out.slice(0, nl).trim() };
}

/** The JSON body of an agent's endpoint, or {} when nothing (or no JSON) answered. */
export function jsonInNetns<T>(ns: string, path: string, port = 9947): T | Record<string, never> {
  const { text } = getInNetns(ns, path, port);
  return text.startsWith("{") ? (JSON.parse(text) as T) : {};
}
