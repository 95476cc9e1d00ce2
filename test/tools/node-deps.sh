#!/usr/bin/env bash
# Installs the Debian packages the test cluster's node runs (test/cluster): containerd, runc and
# the CNI plugins, iptables (the kubelet writes its chains inside the cluster's network
# namespace), iproute2 and util-linux (ip, nsenter), git (Tekton's git resolver clones with it, and
# the test git server is its git-http-backend). Kubernetes, Tekton and everything else are
# built from source by test/tools. `make tools` (and so `make test` and .ci/run) runs this; it
# does nothing when the packages are there.
#
# Tested with Debian 12 (bookworm): containerd 1.6.20~ds1, runc 1.1.5+ds1,
# containernetworking-plugins 1.1.1+ds1. The kubelet v1.37 accepts containerd 1.6 (through its
# RuntimeConfig fallback) and warns that support ends with v1.38.
set -euo pipefail

pkgs=(containerd runc containernetworking-plugins iptables iproute2 util-linux git)
missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "node-deps: root is needed to install: ${missing[*]}" >&2
  exit 1
fi
echo "node-deps: installing ${missing[*]} (Debian packages)"
# The test cluster starts its own containerd with its own configuration: the package must not
# start the system one. policy-rc.d tells the package scripts not to start services.
guard=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  guard=/usr/sbin/policy-rc.d
fi
trap '[ -n "$guard" ] && rm -f "$guard"' EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
