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
  value: {{ .root.Values.stores.cassandra | quote }}
- name: SERVICE_CASSANDRA_CONSISTENCY
  value: {{ .root.Values.stores.cassandraConsistency | quote }}
- name: SERVICE_KAFKA
  value: {{ .root.Values.stores.kafka | quote }}
- name: SERVICE_ETCD
  value: {{ include "lab.etcdEndpoints" .root | quote }}
- name: SERVICE_NAME
  valueFrom:
    fieldRef: {fieldPath: metadata.name}
- name: SERVICE_ADVERTISE
  valueFrom:
    fieldRef: {fieldPath: status.podIP}
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

{{/* The etcd endpoints the api and the workers use: the in-cluster members, or stores.etcd. */}}
{{- define "lab.etcdEndpoints" -}}
{{- if .Values.stores.etcdInCluster.enabled -}}
{{- $name := include "lab.name" (dict "root" . "component" "etcd") -}}
{{- range $i, $_ := until (int .Values.stores.etcdInCluster.replicas) }}{{ if $i }},{{ end }}http://{{ $name }}-{{ $i }}.{{ $name }}:2379{{ end -}}
{{- else -}}
{{- .Values.stores.etcd -}}
{{- end -}}
{{- end -}}
