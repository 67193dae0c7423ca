import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import type { CniResult } from "../../cni/result.js";
import { parseResult } from "../../cni/result.js";
import type { AttachmentPlan } from "./plan.js";

/**
 * What ADD attached to one container, kept on the node (as Multus keeps its delegate cache under
 * /var/lib/cni/multus): DEL undoes exactly that, even when the pod's annotation or a definition
 * changed or vanished since, or the datastore is unreachable.
 */
export interface CachedAttachments {
  readonly pod?: { readonly namespace: string; readonly name: string };
  /** CNI_NETNS of the ADD: GC passes it to the DELs of a container the runtime forgot. */
  readonly netns?: string;
  readonly attachments: readonly { readonly plan: AttachmentPlan; readonly result?: CniResult }[];
}

const schema = z.object({
  pod: z.object({ namespace: z.string(), name: z.string() }).optional(),
  netns: z.string().optional(),
  attachments: z.array(
    z.object({
      plan: z.looseObject({
        name: z.string(),
        ifName: z.string(),
        list: z.looseObject({
          cniVersion: z.string(),
          name: z.string(),
          plugins: z.array(z.record(z.string(), z.unknown())),
        }),
        capabilityArgs: z.record(z.string(), z.unknown()),
        cluster: z.boolean(),
      }),
      result: z.unknown().optional(),
    }),
  ),
});

// ':' is in neither a container id nor an interface name (CNI spec), so the name reads back.
const fileOf = (dir: string, containerId: string, ifName: string) =>
  join(dir, `${containerId}:${ifName}.json`);

export async function writeCache(
  dir: string,
  containerId: string,
  ifName: string,
  c: CachedAttachments,
): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = fileOf(dir, containerId, ifName);
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, JSON.stringify(c), { mode: 0o600 });
  await rename(tmp, file);
}

/** The cache of a container, or undefined when there is none (or it is unreadable: DEL falls back). */
export async function readCache(
  dir: string,
  containerId: string,
  ifName: string,
): Promise<CachedAttachments | undefined> {
  let text: string;
  try {
    text = await readFile(fileOf(dir, containerId, ifName), "utf8");
  } catch {
    return undefined;
  }
  try {
    const c = schema.parse(JSON.parse(text));
    return {
      ...(c.pod ? { pod: c.pod } : {}),
      ...(c.netns !== undefined ? { netns: c.netns } : {}),
      attachments: c.attachments.map((a) => ({
        plan: a.plan as unknown as AttachmentPlan,
        ...(a.result !== undefined ? { result: parseResult(a.result, "cached result") } : {}),
      })),
    };
  } catch {
    return undefined;
  }
}

export async function removeCache(dir: string, containerId: string, ifName: string): Promise<void> {
  await rm(fileOf(dir, containerId, ifName), { force: true });
}

/** The attachments cached in `dir` (for GC). */
export async function listCached(dir: string): Promise<{ containerId: string; ifName: string }[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  return names.flatMap((n) => {
    const m = /^([^:]+):(.+)\.json$/.exec(n);
    return m ? [{ containerId: m[1] as string, ifName: m[2] as string }] : [];
  });
}
