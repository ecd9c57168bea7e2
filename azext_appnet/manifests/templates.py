"""The Go templates istiod's deployment controller renders for Gateway API gateways.

istiod turns a `Gateway` into a ServiceAccount, a Deployment and a Service by executing the
template its GatewayClass names, from the `templates` of the `istio-sidecar-injector`
ConfigMap, with Go's text/template, sprig's functions and a few of istio's own. Two are
reachable in this mesh:

- `waypoint`: class istio-waypoint (waypoints) and class istio-east-west (the member's
  east-west gateway; istiod passes `.IsEastWestGateway`).
- `kube-gateway`: class istio, the ingress gateways users declare (Bookinfo, JWT routing).

No `sidecar` template: members run ambient only and no injection webhook is registered
(istiod.py). The agentgateway classes are off (PILOT_ENABLE_AGENTGATEWAY is not set), so
their templates are not shipped either.

What istiod hands a template (fields of its TemplateInput, identical in Istio 1.29-1.31):
the Gateway itself (`.Name`, `.Namespace`, `.UID`, `.Spec`, `.Annotations`), `.GatewayClass`,
`.DeploymentName`, `.ServiceAccount`, `.Ports` (ServicePorts, from the listeners),
`.ServiceType`, `.ClusterID`, `.KubeVersion`, `.Revision`, `.ProxyUID`, `.ProxyGID`,
`.InfrastructureLabels`, `.InfrastructureAnnotations`, `.GatewayNameLabel`,
`.IsEastWestGateway`, `.ControllerLabel`; and from the injection config `.ProxyImage`,
`.ProxyConfig`, `.MeshConfig` and `.Values` (our injector values, mesh.injector_values).
TEMPLATE_FIELDS and TEMPLATE_FUNCTIONS list them for the tests.

The objects are written as YAML flow mappings where a value comes from a function that
prints JSON (toJsonMap, toJson): JSON is YAML, so no indentation has to be computed.
Only ServiceAccount, Deployment and Service are rendered; istiod renders the HPA and PDB
kinds only when a class or parametersRef ConfigMap overlays them, which this mesh does not.
"""

TEMPLATE_FIELDS = {
    "Name", "Namespace", "UID", "Spec", "Annotations", "Labels", "ObjectMeta", "GatewayClass",
    "DeploymentName", "ServiceAccount", "Ports", "ServiceType", "ClusterID", "KubeVersion",
    "Revision", "NativeSidecars", "ProxyUID", "ProxyGID", "CompliancePolicy",
    "InfrastructureLabels", "InfrastructureAnnotations", "GatewayNameLabel",
    "IsEastWestGateway", "ControllerLabel", "ProxyImage", "ProxyConfig", "MeshConfig", "Values",
}
# Of the functions istiod parses templates with (text/template's builtins, sprig's
# TxtFuncMap, then istio's InjectionFuncmap over it), the ones these templates call.
TEMPLATE_FUNCTIONS = {"omit", "strdict", "toJsonMap", "toJson", "quote", "default",
                      "valueOrDefault", "protoToJSON", "index", "eq", "and", "printf"}

# Metadata istiod or kubectl put on a Gateway that must not be copied to what it creates.
_DROP = ('"kubectl.kubernetes.io/last-applied-configuration" "gateway.istio.io/name-override" '
         '"gateway.istio.io/service-account" "gateway.istio.io/controller-version"')

_PRELUDE = """\
{{- $annotations := omit .InfrastructureAnnotations %(drop)s }}
{{- $names := strdict "gateway.networking.k8s.io/gateway-name" .Name "gateway.networking.k8s.io/gateway-class-name" .GatewayClass }}
{{- $managed := strdict "gateway.istio.io/managed" .ControllerLabel }}
{{- $network := valueOrDefault (index .InfrastructureLabels "topology.istio.io/network") .Values.global.network }}
{{- define "owner" }}
  ownerReferences:
  - {apiVersion: gateway.networking.k8s.io/v1, kind: Gateway, name: {{ .Name | quote }}, uid: {{ .UID | quote }}}
{{- end }}
"""

_SERVICE_ACCOUNT = """\
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ .ServiceAccount | quote }}
  namespace: {{ .Namespace | quote }}
  annotations: {{ toJsonMap $annotations }}
  labels: {{ toJsonMap .InfrastructureLabels $names }}
{{- template "owner" . }}
"""

_DEPLOYMENT_HEAD = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .DeploymentName | quote }}
  namespace: {{ .Namespace | quote }}
  annotations: {{ toJsonMap $annotations }}
  labels: {{ toJsonMap .InfrastructureLabels $names $managed }}
{{- template "owner" . }}
spec:
  selector:
    matchLabels: {{ toJsonMap (strdict .GatewayNameLabel .Name) }}
  template:
    metadata:
      annotations: {{ toJsonMap $annotations (strdict "istio.io/rev" (.Revision | default "default") "prometheus.io/path" "/stats/prometheus" "prometheus.io/port" "15020" "prometheus.io/scrape" "true") }}
      labels: {{ toJsonMap (strdict %(pod_labels)s"service.istio.io/canonical-name" .DeploymentName "service.istio.io/canonical-revision" "latest") .InfrastructureLabels $names $managed }}
    spec:
      serviceAccountName: {{ .ServiceAccount | quote }}
      {{- with %(scheduling)s.nodeSelector }}
      nodeSelector: {{ toJson . }}
      {{- end }}
      {{- with %(scheduling)s.tolerations }}
      tolerations: {{ toJson . }}
      {{- end }}
      {{- with %(scheduling)s.affinity }}
      affinity: {{ toJson . }}
      {{- end }}
%(pod_security)s\
      containers:
      - name: istio-proxy
        image: {{ .ProxyImage | quote }}
        {{- with .Values.global.imagePullPolicy }}
        imagePullPolicy: {{ . | quote }}
        {{- end }}
        args:
        - proxy
        - %(proxy_mode)s
        - --domain
        - $(POD_NAMESPACE).svc.{{ .Values.global.proxy.clusterDomain }}
%(extra_args)s\
        - --proxyLogLevel
        - {{ .Values.global.proxy.logLevel | quote }}
        - --proxyComponentLogLevel
        - {{ .Values.global.proxy.componentLogLevel | quote }}
        - --log_output_level
        - {{ .Values.global.logging.level | quote }}
        ports:
        - {name: metrics, containerPort: 15020, protocol: TCP}
        - {name: status-port, containerPort: 15021, protocol: TCP}
        - {name: http-envoy-prom, containerPort: 15090, protocol: TCP}
        {{- with %(resources)s }}
        resources: {{ toJson . }}
        {{- end }}
        env:
        - {name: PILOT_CERT_PROVIDER, value: {{ .Values.global.pilotCertProvider | quote }}}
        - {name: CA_ADDR, value: {{ printf "istiod.%%s.svc:15012" .Values.global.istioNamespace | quote }}}
        - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
        - {name: POD_NAMESPACE, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
        - {name: INSTANCE_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
        - {name: HOST_IP, valueFrom: {fieldRef: {fieldPath: status.hostIP}}}
        - {name: SERVICE_ACCOUNT, valueFrom: {fieldRef: {fieldPath: spec.serviceAccountName}}}
        - {name: ISTIO_META_SERVICE_ACCOUNT, valueFrom: {fieldRef: {fieldPath: spec.serviceAccountName}}}
        - {name: ISTIO_META_NODE_NAME, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
        - {name: ISTIO_CPU_LIMIT, valueFrom: {resourceFieldRef: {resource: limits.cpu, divisor: "1"}}}
        - {name: GOMAXPROCS, valueFrom: {resourceFieldRef: {resource: limits.cpu, divisor: "1"}}}
        - {name: GOMEMLIMIT, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: "1"}}}
        - {name: PROXY_CONFIG, value: {{ protoToJSON .ProxyConfig | quote }}}
        {{- range $name, $value := .ProxyConfig.ProxyMetadata }}
        - {name: {{ $name | quote }}, value: {{ $value | quote }}}
        {{- end }}
        - {name: ISTIO_META_CLUSTER_ID, value: {{ valueOrDefault .Values.global.multiCluster.clusterName .ClusterID | quote }}}
        {{- if $network }}
        - {name: ISTIO_META_NETWORK, value: {{ $network | quote }}}
        {{- end }}
        {{- if and .IsEastWestGateway $network }}
        - {name: ISTIO_META_REQUESTED_NETWORK_VIEW, value: {{ $network | quote }}}
        {{- end }}
        - {name: ISTIO_META_INTERCEPTION_MODE, value: REDIRECT}
        - {name: ISTIO_META_WORKLOAD_NAME, value: {{ .DeploymentName | quote }}}
        - {name: ISTIO_META_OWNER, value: {{ printf "kubernetes://apis/apps/v1/namespaces/%%s/deployments/%%s" .Namespace .DeploymentName | quote }}}
        {{- with .Values.global.meshID }}
        - {name: ISTIO_META_MESH_ID, value: {{ . | quote }}}
        {{- end }}
        {{- with valueOrDefault .MeshConfig.TrustDomain .Values.global.trustDomain }}
        - {name: TRUST_DOMAIN, value: {{ . | quote }}}
        {{- end }}
        startupProbe:
          httpGet: {path: /healthz/ready, port: 15021, scheme: HTTP}
          initialDelaySeconds: 1
          periodSeconds: 1
          timeoutSeconds: 1
          failureThreshold: 30
        readinessProbe:
          httpGet: {path: /healthz/ready, port: 15021, scheme: HTTP}
          periodSeconds: 15
          timeoutSeconds: 1
          failureThreshold: 4
        securityContext:
          privileged: false
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          runAsNonRoot: true
          runAsUser: {{ .ProxyUID | default 1337 }}
          runAsGroup: {{ .ProxyGID | default 1337 }}
          capabilities: {drop: [ALL]}
        volumeMounts:
        - {name: workload-socket, mountPath: /var/run/secrets/workload-spiffe-uds}
        - {name: credential-socket, mountPath: /var/run/secrets/credential-uds}
        - {name: workload-certs, mountPath: /var/run/secrets/workload-spiffe-credentials}
        - {name: istiod-ca-cert, mountPath: /var/run/secrets/istio}
        - {name: istio-data, mountPath: /var/lib/istio/data}
        - {name: istio-envoy, mountPath: /etc/istio/proxy}
        - {name: istio-token, mountPath: /var/run/secrets/tokens}
        - {name: istio-podinfo, mountPath: /etc/istio/pod}
      volumes:
      - {name: workload-socket, emptyDir: {}}
      - {name: credential-socket, emptyDir: {}}
      - {name: workload-certs, emptyDir: {}}
      - {name: istio-data, emptyDir: {}}
      - {name: istio-envoy, emptyDir: {medium: Memory}}
      - name: istio-podinfo
        downwardAPI:
          items:
          - {path: labels, fieldRef: {fieldPath: metadata.labels}}
          - {path: annotations, fieldRef: {fieldPath: metadata.annotations}}
      - name: istio-token
        projected:
          sources:
          - serviceAccountToken: {path: istio-token, expirationSeconds: 43200, audience: {{ .Values.global.sds.token.aud | quote }}}
      - name: istiod-ca-cert
        configMap: {name: istio-ca-root-cert}
"""

_SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: {{ .DeploymentName | quote }}
  namespace: {{ .Namespace | quote }}
  annotations: {{ toJsonMap %(service_annotations)s$annotations }}
  labels: {{ toJsonMap .InfrastructureLabels $names }}
{{- template "owner" . }}
spec:
  type: {{ .ServiceType | quote }}
  ipFamilyPolicy: PreferDualStack
  selector: {{ toJsonMap (strdict .GatewayNameLabel .Name) }}
  {{- if and .Spec.Addresses (eq .ServiceType "LoadBalancer") }}
  loadBalancerIP: {{ (index .Spec.Addresses 0).Value | quote }}
  {{- end }}
  ports:
  {{- range .Ports }}
  - name: {{ .Name | quote }}
    port: {{ .Port }}
    protocol: {{ .Protocol | default "TCP" }}
    appProtocol: {{ .AppProtocol }}
  {{- end }}
"""

# How the two templates differ. Waypoints and east-west gateways run Envoy as a waypoint and
# are never themselves captured by ztunnel; ingress gateways run it as a router and may
# bind ports below 1024 as a non-root user.
_KINDS = {
    "waypoint": {
        "proxy_mode": "waypoint",
        "extra_args": "        - --serviceCluster\n        - {{ .ServiceAccount }}.$(POD_NAMESPACE)\n",
        "pod_labels": '"sidecar.istio.io/inject" "false" "istio.io/dataplane-mode" "none" ',
        "scheduling": ".Values.global.waypoint",
        "resources": ".Values.global.waypoint.resources",
        "pod_security": "",
        "service_annotations": '(strdict "networking.istio.io/traffic-distribution" "PreferClose") ',
    },
    "kube-gateway": {
        "proxy_mode": "router",
        "extra_args": "",
        "pod_labels": '"sidecar.istio.io/inject" "false" ',
        "scheduling": ".Values.global.gateway",
        "resources": ".Values.global.gateway.resources",
        "pod_security": ("      securityContext:\n"
                         "        sysctls:\n"
                         "        - {name: net.ipv4.ip_unprivileged_port_start, value: \"0\"}\n"),
        "service_annotations": "",
    },
}

TEMPLATE_NAMES = tuple(_KINDS)


def template(name):
    """The Go template text of `name` ("waypoint" or "kube-gateway")."""
    parts = dict(_KINDS[name], drop=_DROP)
    return "\n---\n".join([
        _PRELUDE % parts + _SERVICE_ACCOUNT,
        _DEPLOYMENT_HEAD % parts,
        _SERVICE % parts,
    ])


def templates():
    return {name: template(name) for name in TEMPLATE_NAMES}
