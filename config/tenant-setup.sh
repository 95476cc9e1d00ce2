#!/bin/sh
# Sets up a Konflux tenant namespace for release-to-prod, as a tenant admin: the two
# ServiceAccounts and their RoleBindings. Nothing else is installed (the Pipeline runs inline).
#
#   config/tenant-setup.sh <namespace>                 hosted Konflux (the default): RoleBindings
#                                                      to Konflux's own ClusterRoles
#   config/tenant-setup.sh <namespace> --self-hosted   where a tenant admin may create Roles:
#                                                      Roles with exactly the steps' rights
#
# kubectl acts as whoever its current context is; KUBECTL names another binary.
set -eu
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo "usage: $0 <namespace> [--self-hosted]" >&2
	exit 2
fi
ns=$1
variant=${2:-}
kubectl=${KUBECTL:-kubectl}
rbac=$(cd "$(dirname "$0")" && pwd)/rbac
case $variant in
'') bindings=$rbac/rolebindings.yaml ;;
--self-hosted) bindings=$rbac/self-hosted/rolebindings.yaml ;;
*)
	echo "$0: unknown option $variant (use --self-hosted or nothing)" >&2
	exit 2
	;;
esac
"$kubectl" apply -n "$ns" -f "$rbac/serviceaccounts.yaml"
if [ "$variant" = --self-hosted ]; then
	"$kubectl" apply -n "$ns" -f "$rbac/self-hosted/roles.yaml"
fi
# The API server checks a RoleBinding against the rights of its Role through its own cache,
# which may not hold a Role created a moment ago (NotFound): the apply is retried, a few times.
tries=0
until "$kubectl" apply -n "$ns" -f "$bindings"; do
	tries=$((tries + 1))
	if [ "$tries" -ge 10 ]; then
		echo "$0: could not create the RoleBindings in $ns (see the errors above)" >&2
		exit 1
	fi
	sleep 1
done
echo "release-to-prod: ServiceAccounts release-to-prod (preflight, report) and release-to-prod-releaser (create-release) set up in $ns"
