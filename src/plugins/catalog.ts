/** The CNI plugin types Strata ships, one executable each (named by type). */
export const pluginTypes = ["strata", "strata-ipam", "strata-multi", "strata-cluster-ipam"] as const;
export type PluginType = (typeof pluginTypes)[number];
