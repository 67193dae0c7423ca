/**
 * Names as Kubernetes spells them: a namespace is an RFC 1123 label, a NetworkAttachmentDefinition
 * or pod name an RFC 1123 subdomain (k8s.io/apimachinery validation). The datastore keys below are
 * built from them, so they must never hold '/'.
 */
const label = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const subdomain = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export const isNamespaceName = (s: string): boolean => label.test(s);
export const isObjectName = (s: string): boolean =>
  subdomain.test(s) && s.split(".").every((part) => label.test(part));

/** Why `s` is not a namespace name, or undefined when it is one. */
export function namespaceProblem(s: string): string | undefined {
  if (isNamespaceName(s)) return undefined;
  return `"${s}" is not a namespace name (lowercase letters, digits and '-', at most 63, starting and ending alphanumeric)`;
}

/** Why `s` is not an object name, or undefined when it is one. */
export function objectNameProblem(s: string): string | undefined {
  if (isObjectName(s)) return undefined;
  return `"${s}" is not an object name (lowercase letters, digits, '-' and '.', at most 253, starting and ending alphanumeric)`;
}

/**
 * Why `s` is not a Linux interface name a pod can be given, or undefined. IFNAMSIZ is 16 with the
 * NUL; the CNI spec also forbids "." and "..", '/', ':' and whitespace.
 */
export function interfaceNameProblem(s: string): string | undefined {
  if (s === "") return "the interface name is empty";
  if (s.length > 15) return `interface name "${s}" is longer than 15 characters`;
  if (s === "." || s === ".." || /[/:\s]/.test(s))
    return `interface name "${s}" contains '/', ':' or whitespace, or is "." or ".."`;
  return undefined;
}
