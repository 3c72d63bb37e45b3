// What a cluster gives its pods, on the testbed's real node: a cluster DNS (CoreDNS as a Deployment
// in kube-system behind the kube-dns Service, as kubeadm installs it) and the monitoring stack a
// user's cluster would have (Prometheus as the Service prometheus.monitoring:9090, the chart's
// default prometheusUrl). Prometheus itself runs on the host, on 127.0.0.1; the Service's endpoint is
// the node IP, where a forwarder on the bridge (realnode.ts) reaches it.
import { realpathSync } from 'node:fs';
import type { ImageSpec } from './images.ts';

export const COREDNS_IMAGE = 'localhost/cutover/coredns:testbed';
/** The kube-dns Service's ClusterIP (the kubelet's clusterDNS), in the API server's 10.96.0.0/16. */
export const CLUSTER_DNS_IP = '10.96.0.10';
export const CLUSTER_DOMAIN = 'cluster.local';
/** Prometheus as pods reach it: the chart's default prometheusUrl. */
export const IN_CLUSTER_PROMETHEUS_URL = 'http://prometheus.monitoring:9090';

/** CoreDNS' image: the static binary built by build.sh (test/testbed/coredns/main.go), nothing else. */
export function coreDnsImageSpec(binary: string): ImageSpec {
  return {
    ref: COREDNS_IMAGE,
    rootfs: [
      { kind: 'file', path: 'coredns', from: realpathSync(binary) },
      { kind: 'dir', path: 'etc/coredns' },
      { kind: 'dir', path: 'tmp', mode: 0o1777 },
    ],
    config: { Entrypoint: ['/coredns'], Cmd: ['-conf', '/etc/coredns/Corefile'] },
  };
}

const realNodePlacement = (label: { key: string; value: string }, taint: { key: string; value: string; effect: string }) => `
      nodeSelector: {${label.key}: ${label.value}}
      tolerations: [{key: ${taint.key}, operator: Equal, value: "${taint.value}", effect: ${taint.effect}}]`;

/**
 * CoreDNS (kubernetes plugin: Services and pods of cluster.local; no upstream, this machine has no
 * resolver to forward to), its RBAC and the kube-dns Service; and the monitoring/prometheus Service
 * with its EndpointSlice at the node IP.
 */
export function clusterServicesManifests(o: { nodeIp: string; prometheusPort: number; label: { key: string; value: string }; taint: { key: string; value: string; effect: string } }): string {
  return `apiVersion: v1
kind: ServiceAccount
metadata: {name: coredns, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "system:coredns"}
rules:
- apiGroups: [""]
  resources: [services, pods, namespaces]
  verbs: [list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "system:coredns"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:coredns"}
subjects: [{kind: ServiceAccount, name: coredns, namespace: kube-system}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: coredns, namespace: kube-system}
data:
  Corefile: |
    .:53 {
        errors
        health {
            lameduck 2s
        }
        ready
        kubernetes ${CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {
            pods insecure
            fallthrough in-addr.arpa ip6.arpa
            ttl 5
        }
        cache 5
        loadbalance
    }
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: coredns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  replicas: 1
  selector: {matchLabels: {k8s-app: kube-dns}}
  template:
    metadata: {labels: {k8s-app: kube-dns}}
    spec:
      serviceAccountName: coredns
      dnsPolicy: Default
      priorityClassName: system-cluster-critical${realNodePlacement(o.label, o.taint)}
      containers:
      - name: coredns
        image: ${COREDNS_IMAGE}
        imagePullPolicy: Never
        args: [-conf, /etc/coredns/Corefile]
        ports:
        - {name: dns, containerPort: 53, protocol: UDP}
        - {name: dns-tcp, containerPort: 53, protocol: TCP}
        volumeMounts: [{name: config, mountPath: /etc/coredns, readOnly: true}]
        livenessProbe: {httpGet: {path: /health, port: 8080}, periodSeconds: 10}
        readinessProbe: {httpGet: {path: /ready, port: 8181}, periodSeconds: 2}
        resources: {limits: {memory: 128Mi}, requests: {cpu: 10m, memory: 32Mi}}
      volumes: [{name: config, configMap: {name: coredns}}]
---
apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  clusterIP: ${CLUSTER_DNS_IP}
  selector: {k8s-app: kube-dns}
  ports:
  - {name: dns, port: 53, protocol: UDP, targetPort: 53}
  - {name: dns-tcp, port: 53, protocol: TCP, targetPort: 53}
---
apiVersion: v1
kind: Namespace
metadata: {name: monitoring}
---
apiVersion: v1
kind: Service
metadata: {name: prometheus, namespace: monitoring}
spec:
  ports: [{name: http, port: 9090, protocol: TCP, targetPort: ${o.prometheusPort}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: prometheus-testbed
  namespace: monitoring
  labels: {kubernetes.io/service-name: prometheus, endpointslice.kubernetes.io/managed-by: testbed.cutover.dev}
addressType: IPv4
ports: [{name: http, port: ${o.prometheusPort}, protocol: TCP}]
endpoints: [{addresses: ["${o.nodeIp}"], conditions: {ready: true}}]
`;
}
