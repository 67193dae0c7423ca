#!/usr/bin/env bash
# Installs what Strata needs on a fresh Debian 12 machine: npm packages and the Debian tools the
# kernel layer, tests and lab drive. Idempotent: does nothing when all is present.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v ip >/dev/null || need+=(iproute2)
command -v nsenter >/dev/null || need+=(util-linux)
command -v iperf3 >/dev/null || need+=(iperf3)
command -v etcd >/dev/null || need+=(etcd-server)
command -v openssl >/dev/null || need+=(openssl)
command -v curl >/dev/null || need+=(curl)
command -v bird >/dev/null || need+=(bird2)
command -v gobgpd >/dev/null || need+=(gobgpd)
[ -x /usr/lib/frr/bgpd ] || need+=(frr) # BGP interop tests run FRR's bgpd alone (no zebra)
command -v nft >/dev/null || need+=(nftables)
command -v iptables >/dev/null || need+=(iptables)
command -v ping >/dev/null || need+=(iputils-ping)
command -v ethtool >/dev/null || need+=(ethtool) # doctor reads the VXLAN device's offload settings; the lab sets its veths' offloads like NICs'
command -v python3 >/dev/null || need+=(python3) # lab trace captures its probe with AF_PACKET sockets; tests craft spoofed packets
command -v tcpdump >/dev/null || need+=(tcpdump) # bench/trace compares its capture against tcpdump per namespace
command -v cc >/dev/null || need+=(gcc)
# the tc-BPF tunnel datapath (src/kernel/bpf-tunnel/): compiled with clang, loaded and pinned with bpftool
command -v clang >/dev/null || need+=(clang)
command -v llvm-objdump >/dev/null || need+=(llvm)
[ -f /usr/include/bpf/bpf_helpers.h ] || need+=(libbpf-dev)
command -v bpftool >/dev/null || need+=(bpftool)
# the wireguard backend: wireguard-go where the kernel has no wireguard module; wg for the kernel's device
command -v wireguard-go >/dev/null || need+=(wireguard-go)
command -v wg >/dev/null || need+=(wireguard-tools)
command -v podman >/dev/null || need+=(podman)
command -v runc >/dev/null || need+=(runc)
command -v containerd >/dev/null || need+=(containerd)
[ -x /bin/busybox ] || need+=(busybox-static)
[ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
if ((${#need[@]})); then
  echo "setup: installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
fi
