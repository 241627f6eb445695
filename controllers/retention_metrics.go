package controllers

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Retention, data-subject request and crypto-shredding metrics. The RetentionPolicy
// controller sets the retention series from the Jobs its CronJobs ran, once per run.
var (
	retentionMetricLabels = []string{"namespace", "instance", "policy"}
	retentionClassLabels  = []string{"namespace", "instance", "policy", "data_class", "action"}

	retentionLastRunTimestamp = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "helpdesk_retention_last_run_timestamp",
		Help: "Unix time the newest retention run on the instance finished, whatever its result.",
	}, retentionMetricLabels)
	retentionLastRunSuccess = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "helpdesk_retention_last_run_success",
		Help: "1 when the newest retention run on the instance succeeded, 0 when it failed.",
	}, retentionMetricLabels)
	retentionLastRunDuration = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "helpdesk_retention_last_run_duration_seconds",
		Help: "How long the newest retention run on the instance took.",
	}, retentionMetricLabels)
	retentionLastRunRecords = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "helpdesk_retention_last_run_records",
		Help: "Records the newest retention run acted on per data class and action (what it would have, for a dry run or under a legal hold).",
	}, retentionClassLabels)
	retentionRecordsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "helpdesk_retention_records_affected_total",
		Help: "Records retention deleted or anonymized per data class and action (real runs only; batches a failed run committed included).",
	}, retentionClassLabels)
	retentionFailureTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "helpdesk_retention_failure_total",
		Help: "Retention runs on the instance that failed, each counted once.",
	}, retentionMetricLabels)
	retentionSuccessTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "helpdesk_retention_success_total",
		Help: "Retention runs on the instance that succeeded, each counted once.",
	}, retentionMetricLabels)

	dataSubjectRequestsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "helpdesk_data_subject_requests_total",
		Help: "Data-subject requests that finished, by type and outcome (Succeeded, Refused, Failed).",
	}, []string{"namespace", "instance", "type", "outcome"})

	keyMinDecryptionVersion = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "helpdesk_key_min_decryption_version",
		Help: "Oldest version of the instance's transit key Vault still decrypts with after crypto-shredding.",
	}, []string{"namespace", "instance"})
)

func init() {
	metrics.Registry.MustRegister(retentionLastRunTimestamp, retentionLastRunSuccess, retentionLastRunDuration, retentionLastRunRecords,
		retentionRecordsTotal, retentionFailureTotal, retentionSuccessTotal, dataSubjectRequestsTotal, keyMinDecryptionVersion)
}

// forgetRetentionMetrics drops every series of a deleted policy.
func forgetRetentionMetrics(namespace, policy string) {
	labels := prometheus.Labels{"namespace": namespace, "policy": policy}
	for _, v := range []*prometheus.MetricVec{retentionLastRunTimestamp.MetricVec, retentionLastRunSuccess.MetricVec, retentionLastRunDuration.MetricVec,
		retentionLastRunRecords.MetricVec, retentionRecordsTotal.MetricVec, retentionFailureTotal.MetricVec, retentionSuccessTotal.MetricVec} {
		v.DeletePartialMatch(labels)
	}
}
