/**
 * The CNI plugin types Strata ships, one executable each (named by type). The secondary-network
 * plugins carry a `strata-` prefix so installing them never shadows the reference `macvlan` and
 * `ipvlan` executables that often share the CNI directory.
 */
export const pluginTypes = [
  "strata",
  "strata-ipam",
  "strata-macvlan",
  "strata-ipvlan",
  "strata-sriov",
  "strata-multi",
  "strata-cluster-ipam",
] as const;
export type PluginType = (typeof pluginTypes)[number];
