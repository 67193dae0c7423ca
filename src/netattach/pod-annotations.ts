import type { Datastore } from "../datastore/api.js";
import { NetAttachError } from "./errors.js";
import { namespaceProblem, objectNameProblem } from "./names.js";

/**
 * Pod annotations in Strata's datastore: what a controller watching the API server would copy
 * there (`k8s.v1.cni.cncf.io/networks`), and what the meta plugin writes back
 * (`k8s.v1.cni.cncf.io/network-status`). One key per annotation,
 * `/strata/pods/<namespace>/<name>/annotations/<URI-encoded key>`, so each writer owns its own
 * key and no write needs a read-modify-write of the others.
 */
export const podPrefix = "/strata/pods/";
const annotationsOf = (namespace: string, pod: string) => `${podPrefix}${namespace}/${pod}/annotations/`;

/** Kubernetes annotation keys: an optional DNS-subdomain prefix and '/', then a name of ≤ 63. */
const annotationKey =
  /^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
/** The API server's limit on all of a pod's annotations together; one value may not exceed it. */
const maxValueBytes = 256 * 1024;

export interface PodRef {
  readonly namespace: string;
  readonly name: string;
}

export function checkPodRef(ref: PodRef): void {
  const problem = namespaceProblem(ref.namespace) ?? objectNameProblem(ref.name);
  if (problem) throw new NetAttachError("invalid-annotation", `pod ${ref.namespace}/${ref.name}: ${problem}`);
}

function checkAnnotation(key: string, value: string): void {
  if (!annotationKey.test(key))
    throw new NetAttachError(
      "invalid-annotation",
      `"${key}" is not an annotation key: write [prefix/]name, e.g. k8s.v1.cni.cncf.io/networks`,
    );
  if (Buffer.byteLength(value) > maxValueBytes)
    throw new NetAttachError("invalid-annotation", `annotation ${key} is larger than 256 KiB`);
}

/** Parse `NAMESPACE/NAME` (or `NAME`, in "default") as the CLI takes a pod. */
export function parsePodRef(text: string): PodRef {
  const parts = text.split("/");
  if (parts.length > 2 || parts.some((p) => p === ""))
    throw new NetAttachError("invalid-annotation", `"${text}" is not a pod: write NAMESPACE/NAME`);
  const ref =
    parts.length === 2
      ? { namespace: parts[0] as string, name: parts[1] as string }
      : { namespace: "default", name: text };
  checkPodRef(ref);
  return ref;
}

export class PodAnnotationStore {
  constructor(private readonly store: Datastore) {}

  async set(pod: PodRef, key: string, value: string): Promise<void> {
    checkPodRef(pod);
    checkAnnotation(key, value);
    await this.store.put(`${annotationsOf(pod.namespace, pod.name)}${encodeURIComponent(key)}`, value);
  }

  async remove(pod: PodRef, key: string): Promise<boolean> {
    checkPodRef(pod);
    return this.store.delete(`${annotationsOf(pod.namespace, pod.name)}${encodeURIComponent(key)}`);
  }

  async get(pod: PodRef, key: string): Promise<string | undefined> {
    return (await this.all(pod))[key];
  }

  /** Every annotation of a pod; a stored record that is not one is left out (the store is data, not trust). */
  async all(pod: PodRef): Promise<Record<string, string>> {
    checkPodRef(pod);
    const prefix = annotationsOf(pod.namespace, pod.name);
    const { items } = await this.store.list(prefix);
    const out: Record<string, string> = {};
    for (const kv of items) {
      let key: string;
      try {
        key = decodeURIComponent(kv.key.slice(prefix.length));
        checkAnnotation(key, kv.value);
      } catch {
        continue;
      }
      out[key] = kv.value;
    }
    return out;
  }
}
