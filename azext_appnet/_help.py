"""Help text for every group and command (YAML strings; nothing is imported)."""

from knack.help_files import helps

helps["appnet"] = """
type: group
short-summary: Azure Kubernetes Application Network.
long-summary: >-
  An Application Network holds a shared root CA; each cluster that joins it gets an
  intermediate CA and an Istio ambient data plane in namespace applink-system. Services
  labelled istio.io/global=true are reachable from every member with mTLS end to end.
  Without an Azure login, resources live under the local subscription
  00000000-0000-0000-0000-000000000000 in the state file under the az config dir
  (override with APPNET_STATE_PATH).
"""

helps["appnet create"] = """
type: command
short-summary: Create an Azure Kubernetes Application Network resource.
long-summary: Creates the network's root CA (12 months, rotated at 6). Running the same command again converges.
examples:
  - name: Create an Application Network.
    text: az appnet create --resource-group test_rg --appnet-name appnet-test-01 --location westus2
  - name: Create one with a system-assigned identity and tags, without waiting.
    text: az appnet create -g test_rg -n appnet-test-01 -l westus2 --identity-type SystemAssigned --tags env=dev --no-wait
  - name: Keep the root CA key in Azure Key Vault as a non-exportable key.
    text: az appnet create -g test_rg -n appnet-test-01 -l westus2 --key-vault my-vault
  - name: Let 'az appnet reconcile' upgrade members and roll their CAs only at weekend nights (UTC).
    text: az appnet create -g test_rg -n appnet-test-01 -l westus2 --maintenance-window "Sat,Sun 02:00-06:00"
"""

helps["appnet show"] = """
type: command
short-summary: Show the details of an Azure Kubernetes Application Network.
long-summary: Exits with code 3 when the Application Network does not exist.
examples:
  - name: Get an Application Network resource.
    text: az appnet show --resource-group test_rg --appnet-name appnet-test-01
  - name: Print only its provisioning state.
    text: az appnet show -g test_rg -n appnet-test-01 --query properties.provisioningState -o tsv
"""

helps["appnet list"] = """
type: command
short-summary: List Azure Kubernetes Application Network resources.
examples:
  - name: List Application Networks in the default subscription.
    text: az appnet list
  - name: List Application Networks in a resource group, as a table.
    text: az appnet list --resource-group test_rg -o table
"""

helps["appnet update"] = """
type: command
short-summary: Update an Azure Kubernetes Application Network resource.
examples:
  - name: Replace the tags of an Application Network.
    text: az appnet update --resource-group test_rg --appnet-name appnet-test-01 --tags "{key2913:test_tag}"
  - name: The same with key=value pairs.
    text: az appnet update -g test_rg -n appnet-test-01 --tags env=prod team=platform
  - name: Set the maintenance window in which 'az appnet reconcile' upgrades members and rotates CAs.
    text: az appnet update -g test_rg -n appnet-test-01 --maintenance-window "Mon-Fri 22:00-02:00"
  - name: Remove the maintenance window (any time is maintenance time).
    text: az appnet update -g test_rg -n appnet-test-01 --maintenance-window ""
"""

helps["appnet delete"] = """
type: command
short-summary: Delete an Azure Kubernetes Application Network resource.
long-summary: All members must be removed first. Deletes the network's CA keys.
examples:
  - name: Delete an Application Network.
    text: az appnet delete --resource-group test_rg --appnet-name appnet-test-01
  - name: Delete without a prompt and without waiting.
    text: az appnet delete -g test_rg -n appnet-test-01 --yes --no-wait
"""

helps["appnet wait"] = """
type: command
short-summary: Place the CLI in a waiting state until a condition of the Application Network is met.
examples:
  - name: Wait until an Application Network created with --no-wait is ready.
    text: az appnet wait -g test_rg -n appnet-test-01 --created
  - name: Wait until it is deleted, polling every 5 seconds.
    text: az appnet wait -g test_rg -n appnet-test-01 --deleted --interval 5
"""

helps["appnet list-versions"] = """
type: command
short-summary: List available Application Network versions by location.
long-summary: One item per Kubernetes minor version, with the versions behind each release channel and the SelfManaged versions with their allowed upgrades.
examples:
  - name: List Application Network versions in westus2.
    text: az appnet list-versions --location westus2
  - name: List compatible Application Network versions with Kubernetes 1.33 on westus2, as a table.
    text: az appnet list-versions --location westus2 --kubernetes-version 1.33 -o table
"""

helps["appnet member"] = """
type: group
short-summary: Commands to manage members in an Azure Kubernetes Application Network.
"""

helps["appnet member join"] = """
type: command
short-summary: Join a kubernetes cluster to an Application Network.
long-summary: >-
  Checks the cluster (reachable, Kubernetes 1.30 or newer, Linux nodes, Gateway API CRDs,
  no other mesh, not a member of another network), issues the member's intermediate CA and
  installs the Istio ambient data plane in applink-system. Any cluster joins with
  --kubeconfig/--context; the kubeconfig is read at each operation and no credential is stored.
  If the command fails or is interrupted, running it again resumes where it stopped.
examples:
  - name: Join any Kubernetes cluster from a kubeconfig context (SelfManaged, version N-1).
    text: az appnet member join -g test_rg --appnet-name appnet-test-01 --member-name member-01 --kubeconfig ~/.kube/config --context kind-east
  - name: Join at a chosen version with an external east-west gateway.
    text: az appnet member join -g test_rg --appnet-name appnet-test-01 --member-name member-01 --kubeconfig ./east.yaml --upgrade-mode SelfManaged --version 1.5 --east-west-gateway External
  - name: Join a fully managed AKS member on the Stable channel.
    text: az appnet member join --resource-group test_rg --appnet-name appnet-test-01 --member-name member-01 --cluster-type AKS --member-resource-id /subscriptions/bc7e0da9-5e4c-4a91-9252-9658837006cf/resourcegroups/test-rg/providers/Microsoft.ContainerService/managedClusters/test-member1 --upgrade-mode FullyManaged --release-channel Stable
  - name: Start the join and wait for it in a later pipeline step.
    text: az appnet member join -g test_rg --appnet-name appnet-test-01 --member-name member-01 --kubeconfig ./east.yaml --no-wait && az appnet member wait -g test_rg --appnet-name appnet-test-01 --member-name member-01 --created
  - name: Join a kind cluster, publishing the API server address the other kind clusters reach, on a flat network shared with another member.
    text: az appnet member join -g test_rg --appnet-name appnet-test-01 --member-name east --kubeconfig ~/.kube/config --context kind-east --api-server-url https://172.18.0.3:6443 --network-name flat
"""

helps["appnet member show"] = """
type: command
short-summary: Get a member of an Application Network resource.
long-summary: Exits with code 3 when the member does not exist.
examples:
  - name: Get an Application Network member.
    text: az appnet member show --resource-group test_rg --appnet-name appnet-test-01 --member-name member-01
  - name: Show the installed AppNet version.
    text: az appnet member show -g test_rg --appnet-name appnet-test-01 --member-name member-01 --query properties.installedVersion -o tsv
"""

helps["appnet member list"] = """
type: command
short-summary: List members of an Application Network resource.
examples:
  - name: List the members of an Application Network.
    text: az appnet member list --resource-group test_rg --appnet-name appnet-test-01
  - name: As a table with upgrade mode and version.
    text: az appnet member list -g test_rg --appnet-name appnet-test-01 --output table
"""

helps["appnet member update"] = """
type: command
short-summary: Update an Application Network member resource.
long-summary: >-
  SelfManaged members upgrade one minor version at a time (N to N+1) and may roll back once,
  to the version installed before. The upgrade mode cannot be changed. With no parameter at
  all, the member's data plane, remote secrets and the network's declarations are re-applied
  at the installed version (what was deleted or changed by hand is repaired, what is no
  longer rendered is pruned).
examples:
  - name: Repair a member's data plane (re-apply everything appnet manages on it).
    text: az appnet member update -g test_rg --appnet-name appnet-test-01 --member-name member-01
  - name: Update the release channel of an Application Network member.
    text: az appnet member update --resource-group test_rg --appnet-name appnet-test-01 --member-name member-01 --release-channel Stable
  - name: Update the Application Network version of an Application Network member.
    text: az appnet member update --resource-group test_rg --appnet-name appnet-test-01 --member-name member-01 --version 1.6
  - name: Make the east-west gateway public.
    text: az appnet member update -g test_rg --appnet-name appnet-test-01 --member-name member-01 --east-west-gateway External
  - name: Accept the member cluster's new API server certificate (its identity pinned at join).
    text: az appnet member update -g test_rg --appnet-name appnet-test-01 --member-name member-01 --accept-cluster-identity
  - name: Publish another API server address to the other members (rewrites their remote secrets).
    text: az appnet member update -g test_rg --appnet-name appnet-test-01 --member-name member-01 --api-server-url https://10.0.0.4:6443
"""

helps["appnet member remove"] = """
type: command
short-summary: Removes a member from an Application Network.
long-summary: >-
  Deletes the reader identities the member used on every other member (its tokens stop working
  at once) and those the others used on it, deletes everything the join applied to the cluster,
  and revokes the member's intermediate CA: a revocation list signed by the root (ca-crl.pem in
  Secret cacerts) is given to every remaining member, whose ztunnel then refuses certificates
  that CA issued. 'az appnet ca show' lists revoked intermediates. Finishes even when the
  cluster is gone, with a warning naming what could not be cleaned. For a compromised member,
  add --rotate-root.
examples:
  - name: Delete an Application Network member.
    text: az appnet member remove --resource-group test_rg --appnet-name appnet-test-01 --member-name member-01
  - name: Remove without a prompt (for pipelines).
    text: az appnet member remove -g test_rg --appnet-name appnet-test-01 --member-name member-01 --yes
  - name: Remove a compromised member and start a root CA rotation; finish it a day later.
    text: az appnet member remove -g test_rg --appnet-name appnet-test-01 --member-name member-01 --rotate-root --yes && az appnet ca show -g test_rg -n appnet-test-01 --query revokedIntermediates
"""

helps["appnet member wait"] = """
type: command
short-summary: Place the CLI in a waiting state until a condition of the member is met.
examples:
  - name: Wait until a join started with --no-wait has succeeded.
    text: az appnet member wait -g test_rg --appnet-name appnet-test-01 --member-name member-01 --created
  - name: Wait until a member is removed.
    text: az appnet member wait -g test_rg --appnet-name appnet-test-01 --member-name member-01 --deleted
"""

helps["appnet member rotate-ca"] = """
type: command
short-summary: Rotate the intermediate CA of a member.
long-summary: >-
  Issues a new intermediate CA for the member, signed by the network's root CA, writes it to
  Secret cacerts in applink-system on the member cluster and rolls istiod onto it (istiod's
  pod template carries a hash of the CA material), then waits until istiod is ready. The root
  does not change, so workload certificates issued by the old intermediate stay valid until
  they expire (24 hours at most); ztunnel refreshes them at half-life. The old intermediate's
  key is deleted. This is a long-running operation on the member: with --no-wait, follow it
  with 'az appnet member wait ... --updated'. If it fails (for example the cluster is
  unreachable), running it again resumes where it stopped.
examples:
  - name: Rotate the intermediate CA of a member.
    text: az appnet member rotate-ca -g test_rg --appnet-name appnet-test-01 --member-name member-01
  - name: Start the rotation and wait for it in a later pipeline step.
    text: az appnet member rotate-ca -g test_rg --appnet-name appnet-test-01 --member-name member-01 --no-wait && az appnet member wait -g test_rg --appnet-name appnet-test-01 --member-name member-01 --updated
"""

helps["appnet member rotate-credentials"] = """
type: command
short-summary: Rotate the reader credentials of every link of a member.
long-summary: >-
  Each member reads every other member's API server through a remote secret holding a token
  of a reader identity issued for it alone (a ServiceAccount in applink-system bound to the
  read-only reader role), from the TokenRequest API, valid APPNET_LINK_TOKEN_TTL (default 7
  days). This command issues a new identity and token for every link of the member, both
  ways, hands each to the member that reads with it, then deletes the old identities, so the
  old tokens stop working. Run it before the tokens expire (a scheduled pipeline, at half
  their lifetime: 'az appnet member check' shows each link's expiry). This is a long-running
  operation on the member: with --no-wait, follow it with 'az appnet member wait ...
  --updated'. If a member cluster cannot be reached, the command fails naming it after
  renewing the others; running it again renews them all again.
examples:
  - name: Rotate the reader credentials of a member's links.
    text: az appnet member rotate-credentials -g test_rg --appnet-name appnet-test-01 --member-name member-01
  - name: Rotate them with tokens valid for one day, without waiting.
    text: APPNET_LINK_TOKEN_TTL=1d az appnet member rotate-credentials -g test_rg --appnet-name appnet-test-01 --member-name member-01 --no-wait && az appnet member wait -g test_rg --appnet-name appnet-test-01 --member-name member-01 --updated
"""

helps["appnet ca"] = """
type: group
short-summary: Commands to inspect and rotate the certificate authorities of an Application Network.
long-summary: >-
  An Application Network has one root CA (12 months, due for rotation at 6); every member has
  an intermediate CA signed by it (90 days, due at 45), which istiod uses to issue 24-hour
  workload certificates. 'az appnet member rotate-ca' rotates one member's intermediate;
  'az appnet ca rotate' then 'az appnet ca finish-rotation' rotate the root across all members.
"""

helps["appnet ca show"] = """
type: command
short-summary: Show the root and intermediate CAs of an Application Network.
long-summary: >-
  Validity, rotation due dates, key types, key locations and SHA-256 fingerprints (in the
  format of 'openssl x509 -noout -fingerprint -sha256') of the root CA, of the previous root
  during a root rotation, and of each member's intermediate CA, with the certificates in PEM.
  Never shows a private key. revokedIntermediates lists the intermediates of removed members,
  which every member refuses (ca-crl.pem), with serial numbers and fingerprints. Exits with
  code 3 when the Application Network does not exist.
examples:
  - name: List the revoked intermediate CAs.
    text: az appnet ca show -g test_rg --appnet-name appnet-test-01 --query "revokedIntermediates[].{member:member, serial:serialNumber, revokedAt:revokedAt}" -o table
  - name: Show the CAs of an Application Network.
    text: az appnet ca show -g test_rg --appnet-name appnet-test-01
  - name: One row per certificate, with due dates and fingerprints.
    text: az appnet ca show -g test_rg -n appnet-test-01 -o table
  - name: List the members whose intermediate CA is due for rotation.
    text: az appnet ca show -g test_rg -n appnet-test-01 --query "intermediates[?rotationDue].member" -o tsv
  - name: Save the active root certificate to a file.
    text: az appnet ca show -g test_rg -n appnet-test-01 --query "roots[?active].certificatePem | [0]" -o tsv > root.pem
"""

helps["appnet ca rotate"] = """
type: command
short-summary: Start a rotation of the root CA of an Application Network.
long-summary: >-
  Follows Istio's multi-root procedure, each step applied to every member cluster before the
  next one starts, because the clusters verify each other's certificates: (1) a new root CA is
  created and every member trusts both the old and the new root (root-cert.pem in Secret
  cacerts and ConfigMap istio-root-cert); (2) every member gets a new intermediate CA signed
  by the new root. istiod is rolled after each step. The old root stays trusted until
  'az appnet ca finish-rotation', so workloads keep talking while their certificates are
  re-issued from the new intermediates (they live 24 hours and are refreshed at 12).
  Every member must be Succeeded. If a member cluster cannot be reached, the command fails
  naming it after finishing the others; make it reachable (or remove the member) and run the
  command again: it resumes. Running it again while a rotation is open does not create
  another root. This is a long-running operation on the Application Network: with
  --no-wait, follow it with 'az appnet wait ... --updated' (or 'az appnet ca wait').
examples:
  - name: Start a root CA rotation.
    text: az appnet ca rotate -g test_rg --appnet-name appnet-test-01
  - name: Start it without waiting, then wait for it.
    text: az appnet ca rotate -g test_rg -n appnet-test-01 --no-wait && az appnet wait -g test_rg -n appnet-test-01 --updated
  - name: Check that the rotation is open and no member is left on the old root.
    text: az appnet ca show -g test_rg -n appnet-test-01 --query '{inProgress:rootRotationInProgress, pending:intermediates[?!signedByActiveRoot].member}'
"""

helps["appnet ca finish-rotation"] = """
type: command
short-summary: Finish a rotation of the root CA so that only the new root is trusted.
long-summary: >-
  The last step of Istio's multi-root procedure: every member's trust bundle is set to the new
  root alone, istiod is rolled, and the old root's key is deleted. Run it once workload
  certificates issued before 'az appnet ca rotate' have expired (24 hours after it), or
  connections that still use them fail; it warns when it runs earlier. It is a command of its
  own, not a flag of 'az appnet ca rotate', because it is a separate long-running operation
  that runs a day later, with its own preconditions (a rotation in progress, every
  intermediate signed by the new root) and its own resume on failure. With --no-wait, follow
  it with 'az appnet wait ... --updated' (or 'az appnet ca wait').
examples:
  - name: Finish the root CA rotation (it asks for confirmation first).
    text: az appnet ca finish-rotation -g test_rg --appnet-name appnet-test-01
  - name: Finish it from a pipeline without waiting, then wait for it.
    text: az appnet ca finish-rotation -g test_rg -n appnet-test-01 --yes --no-wait && az appnet ca wait -g test_rg -n appnet-test-01 --updated
"""

helps["appnet ca wait"] = """
type: command
short-summary: Place the CLI in a waiting state until a CA operation of the Application Network ends.
long-summary: >-
  The same as 'az appnet wait': 'az appnet ca rotate' and 'az appnet ca finish-rotation' are
  long-running operations on the Application Network resource. A member's 'rotate-ca' is an
  operation on the member: wait for it with 'az appnet member wait'.
examples:
  - name: Wait until a root rotation started with --no-wait has succeeded.
    text: az appnet ca wait -g test_rg -n appnet-test-01 --updated
  - name: The same with az appnet wait, polling every 5 seconds.
    text: az appnet wait -g test_rg -n appnet-test-01 --updated --interval 5
"""

helps["appnet member check"] = """
type: command
short-summary: Check the live state of a member's cluster against what AppNet installed there.
long-summary: >-
  Read-only: reaches the member's cluster and reports a list of checks, each with a status
  (Passed, Failed or Warning), a message and a recommendation: the API server answers and its
  Kubernetes version is supported by the installed AppNet version; every object of that
  version is on the cluster with the ownership labels; istiod is available and ztunnel and
  istio-cni are ready on every Linux node; the workloads run the images of the installed
  version (no drift); Secret cacerts holds the member's current intermediate CA from the key
  store and chains to the network's root CA (compared by certificate fingerprints: the
  private key is never read or shown); ConfigMap istio-root-cert is the network's trust
  bundle; the east-west gateway has an address and is Programmed; namespace applink-system
  carries the member's network (topology.istio.io/network); the intermediate CA is neither
  expired nor due for rotation (a Warning); and for every other member a remote secret (a
  Secret labelled istio/multiCluster=true naming it) is present. Exit code: 0 when no check
  Failed (Warnings do not fail); when a check Failed, the report is still printed to stdout
  in the chosen output format, then the command exits 1 with an error on stderr naming the
  failed checks and their fixes, so a CI step fails. To read the report without failing the
  step, append '|| true'.
examples:
  - name: Check a member.
    text: az appnet member check -g test_rg --appnet-name appnet-test-01 --member-name member-01
  - name: One row per check.
    text: az appnet member check -g test_rg --appnet-name appnet-test-01 --member-name member-01 -o table
  - name: List only the checks that did not pass.
    text: az appnet member check -g test_rg --appnet-name appnet-test-01 --member-name member-01 --query "checks[?status!='Passed']"
  - name: Check the members named by resource id.
    text: az appnet member check --ids $(az appnet member list -g test_rg --appnet-name appnet-test-01 --query "[].id" -o tsv)
"""

helps["appnet check"] = """
type: command
short-summary: Check the live state of every member of an Application Network and the links between them.
long-summary: >-
  Read-only: runs the checks of 'az appnet member check' on every member (several clusters at
  once) and adds checks across members: the root CA is neither expired nor due for rotation;
  every member's istio-root-cert is the network's trust bundle; every member has the same
  mesh id; no two members share a network name; every member has a remote secret for every
  other member (a Warning when no member has any yet). A member whose cluster cannot be
  reached shows a Failed 'apiReachable' check with the fix, and the other members are still
  checked. Exit code: 0 when no check Failed; otherwise the report is printed to stdout and
  the command exits 1 with an error on stderr naming the failed checks, so a CI step fails.
examples:
  - name: Check an Application Network and all its members.
    text: az appnet check -g test_rg -n appnet-test-01
  - name: One row per check, network checks first.
    text: az appnet check -g test_rg -n appnet-test-01 -o table
  - name: Count the failed checks without failing the pipeline step.
    text: az appnet check -g test_rg -n appnet-test-01 --query summary.failed -o tsv || true
"""

# ---- network-wide declarations -------------------------------------------------------------

helps["appnet namespace"] = """
type: group
short-summary: Ambient namespaces declared once for the whole Application Network.
long-summary: >-
  An ambient namespace is labelled istio.io/dataplane-mode=ambient in every member, including
  members that join later. The declaration is recorded on the Application Network
  ('az appnet show --query properties.declarations').
"""

helps["appnet namespace enable"] = """
type: command
short-summary: Enrol a namespace in the ambient mesh in every member.
long-summary: >-
  Labels the namespace istio.io/dataplane-mode=ambient in every member, creating it (marked as
  created by az appnet) where it is absent. The namespace must exist in at least one member.
  Prints what changed in each member (Created, Labelled, Unchanged, Unreachable with the
  cause); a member that cannot be reached does not stop the others, the command exits
  non-zero naming it, and the member converges when the command, 'az appnet member update'
  or a join next runs.
examples:
  - name: Enrol namespace shop in every member.
    text: az appnet namespace enable -g test_rg --appnet-name appnet-test-01 --namespace shop
  - name: The same, one row per member.
    text: az appnet namespace enable -g test_rg --appnet-name appnet-test-01 --namespace shop -o table
"""

helps["appnet namespace disable"] = """
type: command
short-summary: Take a namespace out of the ambient mesh in every member.
long-summary: >-
  Removes what 'enable' set: the label where az appnet set it, and the namespace itself where
  az appnet created it and it holds nothing else. Refused while a waypoint or global service of
  the network is in the namespace.
examples:
  - name: Take namespace shop out of the mesh, without a prompt.
    text: az appnet namespace disable -g test_rg --appnet-name appnet-test-01 --namespace shop --yes
"""

helps["appnet namespace list"] = """
type: command
short-summary: List the ambient namespaces and what each member shows of them.
long-summary: >-
  Declared namespaces and namespaces labelled ambient by hand in any member, each with every
  member's state: present, labelled ambient, the waypoint it uses, and whether it matches the
  declaration.
examples:
  - name: One row per namespace and member.
    text: az appnet namespace list -g test_rg --appnet-name appnet-test-01 -o table
"""

helps["appnet global-service"] = """
type: group
short-summary: Services reachable from every member (istio.io/global=true), declared once.
"""

helps["appnet global-service add"] = """
type: command
short-summary: Make a Service global in every member.
long-summary: >-
  Labels the Service istio.io/global=true in every member where it exists. Where a member lacks
  it, creates a selector-less stub Service with the same ports, so the name has a VIP and DNS
  there and its traffic goes to the members that run it. The ports are read from the members
  that have the Service; the command is refused when two members have it with different ports.
  The Service must exist in at least one member.
examples:
  - name: Make shop/cart reachable from every member.
    text: az appnet global-service add -g test_rg --appnet-name appnet-test-01 --namespace shop --service cart
"""

helps["appnet global-service remove"] = """
type: command
short-summary: Stop sharing a Service across members.
long-summary: >-
  Deletes the stubs az appnet created and removes the istio.io/global label where az appnet
  set it; your own Services are otherwise left as they are.
examples:
  - name: Stop sharing shop/cart, without a prompt.
    text: az appnet global-service remove -g test_rg --appnet-name appnet-test-01 --namespace shop --service cart --yes
"""

helps["appnet global-service list"] = """
type: command
short-summary: List the global services and what each member shows of them.
long-summary: >-
  Declared services and Services labelled istio.io/global=true by hand in any member, each with
  every member's state: present, labelled global, stub or real, its ports, ready endpoints
  (from EndpointSlices), and whether it matches the declaration.
examples:
  - name: One row per service and member.
    text: az appnet global-service list -g test_rg --appnet-name appnet-test-01 -o table
  - name: Only the services of namespace shop.
    text: az appnet global-service list -g test_rg --appnet-name appnet-test-01 --namespace shop
"""

helps["appnet waypoint"] = """
type: group
short-summary: Waypoints (L7 proxies) declared once, identical and global in every member.
"""

helps["appnet waypoint create"] = """
type: command
short-summary: Create a waypoint for an ambient namespace in every member.
long-summary: >-
  Creates in every member the same Gateway of class istio-waypoint (listener HBONE 15008),
  labelled istio.io/global=true so cross-cluster L7 traffic goes through it, and labels the
  namespace istio.io/use-waypoint=NAME. The namespace must be an ambient namespace of the
  network ('az appnet namespace enable').
examples:
  - name: Create waypoint 'waypoint' for namespace shop.
    text: az appnet waypoint create -g test_rg --appnet-name appnet-test-01 --namespace shop
  - name: Give it another name.
    text: az appnet waypoint create -g test_rg --appnet-name appnet-test-01 --namespace shop --name shop-waypoint
"""

helps["appnet waypoint delete"] = """
type: command
short-summary: Delete a waypoint from every member.
long-summary: Deletes the Gateway az appnet created and removes the namespace's istio.io/use-waypoint label.
examples:
  - name: Delete the waypoint of namespace shop, without a prompt.
    text: az appnet waypoint delete -g test_rg --appnet-name appnet-test-01 --namespace shop --yes
"""

helps["appnet waypoint list"] = """
type: command
short-summary: List the waypoints and what each member shows of them.
long-summary: >-
  Declared waypoints and Gateways of class istio-waypoint found in any member, each with every
  member's state: present, labelled global, Programmed, whether the namespace uses it, and
  whether it matches the declaration.
examples:
  - name: One row per waypoint and member.
    text: az appnet waypoint list -g test_rg --appnet-name appnet-test-01 -o table
"""

helps["appnet reconcile"] = """
type: command
short-summary: Bring the whole Application Network to what it should be; safe to run every hour from a scheduled pipeline.
long-summary: >-
  Does the managed service's duties in one run. Certificates: rotates each member's
  intermediate CA past its rotate-after time (45 of 90 days), starts a root CA rotation past
  the root's rotate-after (6 of 12 months) and finishes it once every member uses the new root
  and the old root's workload certificates have aged out (24 h). Versions: moves FullyManaged
  members one minor version towards their release channel and gives every member the newest
  patch of its installed minor. These run only inside the network's maintenance window
  ('az appnet update --maintenance-window', UTC; none set = any time) unless
  --ignore-maintenance-window is given; an expired certificate is replaced at once. Drift:
  every member's data plane is compared with its rendering (a server-side apply dry run of
  each object) and re-applied where something is missing or changed, objects no longer
  rendered are pruned, missing or outdated remote secrets are recreated and the network's
  namespaces, global services and waypoints re-applied. Each action runs as the ordinary
  resumable operation of the resource it changes (a member's update or rotate-ca, the
  network's ca rotate), so a reconcile killed midway is finished by the next one; a member
  busy with another operation is Deferred; a member that cannot be reached is reported and
  does not stop the others. The report lists every action with member, action (repair,
  rotateIntermediate, rotateRoot, finishRootRotation, rotateCredentials, upgrade, patch,
  relink, reapplyDeclarations), reason and status (Planned with --dry-run, Done, Failed with
  the error, Deferred with the reason). Exits 1 after the report when an action failed.
parameters:
  - name: --dry-run
    short-summary: List what would be done, and change nothing anywhere (state, clusters, keys).
  - name: --member
    short-summary: Only these members (space-separated names). Network-wide CA actions are left to a run without --member.
  - name: --ignore-maintenance-window
    short-summary: Upgrade, patch and rotate now even outside the network's maintenance window.
examples:
  - name: Show what the network needs now, changing nothing.
    text: az appnet reconcile -g test_rg -n appnet-test-01 --dry-run -o table
  - name: Do it (from a scheduled pipeline, for example every hour).
    text: az appnet reconcile -g test_rg -n appnet-test-01
  - name: Repair two members only, and upgrade them now whatever the window.
    text: az appnet reconcile -g test_rg -n appnet-test-01 --member member-01 member-02 --ignore-maintenance-window
"""
