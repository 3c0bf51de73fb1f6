{{/* The release's name for a component: "<release>-api". */}}
{{- define "lab.name" -}}
{{- printf "%s-%s" .root.Release.Name .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The labels every object carries. */}}
{{- define "lab.labels" -}}
app.kubernetes.io/name: {{ .component }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/part-of: lab-system
app.kubernetes.io/version: {{ .root.Values.image.tag | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{/* The labels a component's pods are selected by. */}}
{{- define "lab.selector" -}}
app.kubernetes.io/name: {{ .component }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{/* A lab image: "<registry>/<name>:<tag>". */}}
{{- define "lab.image" -}}
{{- printf "%s/%s:%s" .root.Values.image.registry .name (.tag | default .root.Values.image.tag) -}}
{{- end -}}

{{/* The pod security every component shares: not root, no privilege escalation, nothing kept. */}}
{{- define "lab.podSecurity" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
seccompProfile: {type: RuntimeDefault}
{{- end -}}

{{- define "lab.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities: {drop: [ALL]}
{{- end -}}

{{/* The settings the api and the workers share: where the stores are. */}}
{{- define "lab.storeEnv" -}}
- name: SERVICE_POSTGRES
  valueFrom:
    secretKeyRef: {name: {{ include "lab.name" (dict "root" .root "component" "stores") }}, key: postgres}
- name: SERVICE_CASSANDRA
  value: {{ include "lab.cassandraNodes" .root | quote }}
- name: SERVICE_CASSANDRA_CONSISTENCY
  value: {{ .root.Values.stores.cassandra.consistency | quote }}
{{- if .root.Values.stores.cassandra.inCluster }}
- name: SERVICE_CASSANDRA_DATACENTER
  value: {{ .root.Values.stores.cassandra.datacenter | quote }}
{{- end }}
- name: SERVICE_KAFKA
  value: {{ include "lab.kafkaBrokers" .root | quote }}
- name: SERVICE_ETCD
  value: {{ include "lab.etcdEndpoints" .root | quote }}
- name: SERVICE_NAME
  valueFrom:
    fieldRef: {fieldPath: metadata.name}
- name: SERVICE_ADVERTISE
  valueFrom:
    fieldRef: {fieldPath: status.podIP}
# Every series names its pod, which Prometheus's DNS discovery cannot (the metrics adapter maps
# series to pods by these labels).
- name: SERVICE_METRICS_LABELS
  value: "namespace={{ .root.Release.Namespace }},pod=$(SERVICE_NAME)"
{{- end -}}

{{/* Where store pods run: the store nodes only (their label, their taint tolerated), one per
     node where there are several. */}}
{{- define "lab.storePlacement" -}}
nodeSelector:
  {{- toYaml .root.Values.stores.placement.nodeSelector | nindent 2 }}
tolerations:
{{- toYaml .root.Values.stores.placement.tolerations | nindent 0 }}
affinity:
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- include "lab.selector" . | nindent 12 }}
{{- end -}}

{{/* The stable names of a store's members, "<name>-<i>.<name>:<port>", comma-separated:
     dict "root" . "component" "kafka" "replicas" 3 "port" 9092 ("scheme" optional). */}}
{{- define "lab.members" -}}
{{- $name := include "lab.name" . -}}
{{- $scheme := .scheme | default "" -}}
{{- range $i, $_ := until (int .replicas) }}{{ if $i }},{{ end }}{{ $scheme }}{{ $name }}-{{ $i }}.{{ $name }}:{{ $.port }}{{ end -}}
{{- end -}}

{{/* The etcd endpoints the api and the workers use: the in-cluster members, or the external. */}}
{{- define "lab.etcdEndpoints" -}}
{{- $e := .Values.stores.etcd -}}
{{- if $e.inCluster -}}
{{- include "lab.members" (dict "root" . "component" "etcd" "replicas" $e.replicas "port" 2379 "scheme" "http://") -}}
{{- else -}}
{{- $e.external -}}
{{- end -}}
{{- end -}}

{{/* Cassandra's contact points. */}}
{{- define "lab.cassandraNodes" -}}
{{- $c := .Values.stores.cassandra -}}
{{- if $c.inCluster -}}
{{- include "lab.members" (dict "root" . "component" "cassandra" "replicas" $c.replicas "port" 9042) -}}
{{- else -}}
{{- $c.external -}}
{{- end -}}
{{- end -}}

{{/* Kafka's bootstrap servers. */}}
{{- define "lab.kafkaBrokers" -}}
{{- $k := .Values.stores.kafka -}}
{{- if $k.inCluster -}}
{{- include "lab.members" (dict "root" . "component" "kafka" "replicas" $k.replicas "port" 9092) -}}
{{- else -}}
{{- $k.external -}}
{{- end -}}
{{- end -}}

{{/* A generated secret value kept across upgrades: the value given, else the one the Secret
     already holds, else "fresh" (24 random letters and digits when not given).
     dict "root" . "key" "postgres-password" "given" "" ("fresh" optional). */}}
{{- define "lab.kept" -}}
{{- $name := include "lab.name" (dict "root" .root "component" "stores") -}}
{{- $existing := lookup "v1" "Secret" .root.Release.Namespace $name -}}
{{- if .given -}}
{{- .given -}}
{{- else if and $existing (hasKey $existing.data .key) -}}
{{- index $existing.data .key | b64dec -}}
{{- else -}}
{{- .fresh | default (randAlphaNum 24) -}}
{{- end -}}
{{- end -}}

{{/* The superuser's password of the in-cluster PostgreSQL. */}}
{{- define "lab.postgresPassword" -}}
{{- include "lab.kept" (dict "root" . "key" "postgres-password" "given" .Values.stores.postgres.password) -}}
{{- end -}}

{{/* Kafka's cluster id: 16 random bytes in URL-safe base64 without padding, as Kafka's
     `random-uuid` prints them (alphanumeric bytes never encode to a leading "-"). */}}
{{- define "lab.kafkaClusterId" -}}
{{- $fresh := randAlphaNum 16 | b64enc | trimSuffix "==" | replace "+" "-" | replace "/" "_" -}}
{{- include "lab.kept" (dict "root" . "key" "kafka-cluster-id" "given" .Values.stores.kafka.clusterId "fresh" $fresh) -}}
{{- end -}}

{{/* A store's data volume: a claim per member (volumeClaimTemplates), or an emptyDir. */}}
{{- define "lab.storeClaims" -}}
{{- if not .root.Values.stores.emptyDir }}
volumeClaimTemplates:
- metadata: {name: data}
  spec:
    accessModes: [ReadWriteOnce]
    {{- with .root.Values.stores.storageClassName }}
    storageClassName: {{ . }}
    {{- end }}
    resources:
      requests: {storage: {{ .storage }}}
{{- end }}
{{- end -}}

{{/* The emptyDir standing in for a store's claim when stores.emptyDir is set. */}}
{{- define "lab.storeEmptyData" -}}
{{- if .root.Values.stores.emptyDir }}
- name: data
  emptyDir: {sizeLimit: {{ .storage }}}
{{- end }}
{{- end -}}

{{/* The stores, as JSON: each one's component, whether it runs in the cluster, its client
     ports and its peers' ports. The NetworkPolicies come from it. */}}
{{- define "lab.storeTable" -}}
{{- $v := .Values.stores -}}
{{- list
  (dict "component" "etcd" "on" $v.etcd.inCluster "clients" (list 2379) "peers" (list 2380))
  (dict "component" "postgres" "on" $v.postgres.inCluster "clients" (list 5432) "peers" (list 5432))
  (dict "component" "cassandra" "on" $v.cassandra.inCluster "clients" (list 9042) "peers" (list 7000))
  (dict "component" "kafka" "on" $v.kafka.inCluster "clients" (list 9092) "peers" (list 9092 9093))
  | toJson -}}
{{- end -}}

{{/* Where the api and the workers may connect: the stores in the cluster, on their client
     ports, and the external stores' address ranges. */}}
{{- define "lab.storeEgress" -}}
{{- $v := .Values.stores -}}
{{- range $store := include "lab.storeTable" . | fromJsonArray }}
{{- if $store.on }}
- to:
  - podSelector:
      matchLabels:
        {{- include "lab.selector" (dict "root" $ "component" $store.component) | nindent 8 }}
  ports:
  {{- range $store.clients }}
  - {port: {{ . }}, protocol: TCP}
  {{- end }}
{{- end }}
{{- end }}
{{- if not (and $v.etcd.inCluster $v.postgres.inCluster $v.cassandra.inCluster $v.kafka.inCluster) }}
- to:
  {{- range $v.externalCidrs }}
  - ipBlock: {cidr: {{ . }}}
  {{- end }}
{{- end }}
{{- end -}}

{{/* The pod annotation naming what the image was made from (image.builds), if known:
     dict "root" . "name" "api". */}}
{{- define "lab.imageBuild" -}}
{{- with index .root.Values.image.builds .name -}}
lab.consistency/image-build: {{ . | quote }}
{{- end -}}
{{- end -}}
