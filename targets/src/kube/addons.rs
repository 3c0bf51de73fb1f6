//! What every cluster gets once its nodes are ready: the lab's images in each node's
//! containerd, then CoreDNS (the `kube-dns` Service at 10.96.0.10, answering for
//! `cluster.local` only: nothing is forwarded off the machine) and metrics-server (the
//! `metrics.k8s.io` API behind `kubectl top` and the HPA's CPU and memory metrics).

use super::image::{self, Image, COREDNS, METRICS_SERVER};
use super::node::ctr;
use super::{kubectl_run, write, DNS_SERVICE_IP};
use cluster::{Cluster, ClusterError};
use std::time::Instant;

/// Imports the images into every node, applies the add-ons and waits until they serve.
pub fn install(nodes: &Cluster, report: &mut dyn FnMut(&str)) -> Result<(), ClusterError> {
    let started = Instant::now();
    let images = super::bin::images_dir()?;
    std::fs::create_dir_all(&images)
        .map_err(|e| ClusterError(format!("cannot create {}: {e}", images.display())))?;
    for image in image::add_ons() {
        let archive = image.archive(&images)?;
        for node in 0..nodes.nodes() {
            import(nodes, node, image, &archive)?;
        }
    }
    report(&format!(
        "images imported into {} nodes after {:.1} s",
        nodes.nodes(),
        started.elapsed().as_secs_f64()
    ));
    let manifest = manifest_file(nodes);
    write(&manifest, &manifests())?;
    let manifest = manifest.display().to_string();
    let control = crate::service::server::beside(nodes, &super::control_plane::ControlPlane);
    kubectl_run(
        &control,
        &[
            "apply",
            "--server-side",
            "--force-conflicts",
            "-f",
            &manifest,
        ],
    )?;
    for deployment in ["coredns", "metrics-server"] {
        kubectl_run(
            &control,
            &[
                "-n",
                "kube-system",
                "rollout",
                "status",
                &format!("deployment/{deployment}"),
                "--timeout=180s",
            ],
        )?;
    }
    kubectl_run(
        &control,
        &[
            "wait",
            "--for=condition=Available",
            "apiservice/v1beta1.metrics.k8s.io",
            "--timeout=120s",
        ],
    )?;
    report(&format!(
        "CoreDNS and metrics-server serving after {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

fn manifest_file(nodes: &Cluster) -> std::path::PathBuf {
    super::shared_dir(nodes).join("addons.yaml")
}

/// Removes what [`install`] wrote into the lab's state.
pub fn remove_files(nodes: &Cluster) {
    let _ = std::fs::remove_file(manifest_file(nodes));
}

/// Imports `image` into `node`'s containerd (an add-on unless it is there; the service's images
/// every time, since they change with each build), pinned so that nothing collects it (it could
/// not be pulled back).
pub fn import(
    nodes: &Cluster,
    node: usize,
    image: &Image,
    archive: &std::path::Path,
) -> Result<(), ClusterError> {
    let listed = cluster::command::run(ctr(nodes, node).args(["images", "ls", "-q"]))?;
    if image.add_on && listed.lines().any(|line| line.trim() == image.reference) {
        return Ok(());
    }
    cluster::command::run(ctr(nodes, node).args(["images", "import"]).arg(archive))?;
    cluster::command::run(ctr(nodes, node).args([
        "images",
        "label",
        image.reference,
        "io.cri-containerd.pinned=pinned",
    ]))?;
    Ok(())
}

/// The add-ons' manifests: CoreDNS and metrics-server with their RBAC, Services and APIService.
pub fn manifests() -> String {
    format!(
        r#"apiVersion: v1
kind: ServiceAccount
metadata: {{name: coredns, namespace: kube-system}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: "system:coredns"}}
rules:
- apiGroups: [""]
  resources: [endpoints, services, pods, namespaces]
  verbs: [list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: "system:coredns"}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:coredns"}}
subjects: [{{kind: ServiceAccount, name: coredns, namespace: kube-system}}]
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: coredns, namespace: kube-system}}
data:
  # No `forward`: names outside the cluster are not resolved (nothing leaves the machine).
  Corefile: |
    .:53 {{
        errors
        health :8080
        ready :8181
        kubernetes cluster.local in-addr.arpa ip6.arpa {{
            pods insecure
            fallthrough in-addr.arpa ip6.arpa
        }}
        prometheus :9153
        cache 30
        loop
        reload
    }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: coredns
  namespace: kube-system
  labels: {{k8s-app: kube-dns}}
spec:
  replicas: 2
  selector: {{matchLabels: {{k8s-app: kube-dns}}}}
  template:
    metadata: {{labels: {{k8s-app: kube-dns}}}}
    spec:
      serviceAccountName: coredns
      priorityClassName: system-cluster-critical
      dnsPolicy: Default
      securityContext:
        runAsNonRoot: true
        # Port 53 without root and without file capabilities (a safe sysctl, per pod).
        sysctls: [{{name: net.ipv4.ip_unprivileged_port_start, value: "0"}}]
      affinity:
        podAntiAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
          - weight: 100
            podAffinityTerm:
              topologyKey: kubernetes.io/hostname
              labelSelector: {{matchLabels: {{k8s-app: kube-dns}}}}
      containers:
      - name: coredns
        image: {coredns}
        imagePullPolicy: Never
        args: ["-conf", "/etc/coredns/Corefile"]
        ports:
        - {{name: dns, containerPort: 53, protocol: UDP}}
        - {{name: dns-tcp, containerPort: 53, protocol: TCP}}
        - {{name: metrics, containerPort: 9153, protocol: TCP}}
        resources:
          requests: {{cpu: 50m, memory: 40Mi}}
          limits: {{memory: 170Mi}}
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          capabilities: {{drop: [ALL]}}
        livenessProbe:
          httpGet: {{path: /health, port: 8080}}
          initialDelaySeconds: 10
        readinessProbe:
          httpGet: {{path: /ready, port: 8181}}
        volumeMounts: [{{name: config, mountPath: /etc/coredns, readOnly: true}}]
      volumes:
      - name: config
        configMap: {{name: coredns}}
---
apiVersion: v1
kind: Service
metadata:
  name: kube-dns
  namespace: kube-system
  labels: {{k8s-app: kube-dns}}
spec:
  clusterIP: {DNS_SERVICE_IP}
  selector: {{k8s-app: kube-dns}}
  ports:
  - {{name: dns, port: 53, protocol: UDP}}
  - {{name: dns-tcp, port: 53, protocol: TCP}}
  - {{name: metrics, port: 9153, protocol: TCP}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {{name: metrics-server, namespace: kube-system}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: "system:aggregated-metrics-reader"
  labels:
    rbac.authorization.k8s.io/aggregate-to-admin: "true"
    rbac.authorization.k8s.io/aggregate-to-edit: "true"
    rbac.authorization.k8s.io/aggregate-to-view: "true"
rules:
- apiGroups: [metrics.k8s.io]
  resources: [pods, nodes]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: "system:metrics-server"}}
rules:
- apiGroups: [""]
  resources: [nodes/metrics]
  verbs: [get]
- apiGroups: [""]
  resources: [pods, nodes]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: "metrics-server-auth-reader", namespace: kube-system}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: extension-apiserver-authentication-reader}}
subjects: [{{kind: ServiceAccount, name: metrics-server, namespace: kube-system}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: "metrics-server:system:auth-delegator"}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:auth-delegator"}}
subjects: [{{kind: ServiceAccount, name: metrics-server, namespace: kube-system}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: "system:metrics-server"}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:metrics-server"}}
subjects: [{{kind: ServiceAccount, name: metrics-server, namespace: kube-system}}]
---
apiVersion: v1
kind: Service
metadata:
  name: metrics-server
  namespace: kube-system
  labels: {{k8s-app: metrics-server}}
spec:
  selector: {{k8s-app: metrics-server}}
  ports: [{{name: https, port: 443, protocol: TCP, targetPort: https}}]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: metrics-server
  namespace: kube-system
  labels: {{k8s-app: metrics-server}}
spec:
  replicas: 1
  selector: {{matchLabels: {{k8s-app: metrics-server}}}}
  template:
    metadata: {{labels: {{k8s-app: metrics-server}}}}
    spec:
      serviceAccountName: metrics-server
      priorityClassName: system-cluster-critical
      securityContext: {{runAsNonRoot: true}}
      containers:
      - name: metrics-server
        image: {metrics}
        imagePullPolicy: Never
        args:
        - --cert-dir=/tmp
        - --secure-port=10250
        - --kubelet-preferred-address-types=InternalIP
        - --kubelet-use-node-status-port
        # The kubelets' serving certificates are signed by the cluster's CA, which every
        # namespace's kube-root-ca.crt ConfigMap holds.
        - --kubelet-certificate-authority=/ca/ca.crt
        - --metric-resolution=15s
        ports: [{{name: https, containerPort: 10250, protocol: TCP}}]
        resources:
          requests: {{cpu: 50m, memory: 100Mi}}
          limits: {{memory: 300Mi}}
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          capabilities: {{drop: [ALL]}}
        readinessProbe:
          httpGet: {{path: /readyz, port: https, scheme: HTTPS}}
          periodSeconds: 5
        livenessProbe:
          httpGet: {{path: /livez, port: https, scheme: HTTPS}}
        volumeMounts:
        - {{name: tmp, mountPath: /tmp}}
        - {{name: ca, mountPath: /ca, readOnly: true}}
      volumes:
      - name: tmp
        emptyDir: {{}}
      - name: ca
        configMap: {{name: kube-root-ca.crt}}
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {{name: v1beta1.metrics.k8s.io, labels: {{k8s-app: metrics-server}}}}
spec:
  service: {{name: metrics-server, namespace: kube-system}}
  group: metrics.k8s.io
  version: v1beta1
  # metrics-server serves with a certificate it makes itself.
  insecureSkipTLSVerify: true
  groupPriorityMinimum: 100
  versionPriority: 100
"#,
        coredns = COREDNS.reference,
        metrics = METRICS_SERVER.reference,
    )
}
