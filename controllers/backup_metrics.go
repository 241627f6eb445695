package controllers

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Backup metrics carry the names Velero users alert on, with our prefix, one series per
// namespace, instance and policy. The BackupPolicy controller sets them from the Jobs
// the backup CronJobs ran.
var (
	backupMetricLabels = []string{"namespace", "instance", "policy"}

	backupLastSuccessTimestamp = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "helpdesk_backup_last_successful_timestamp",
		Help: "Unix time the newest successful backup of the instance completed.",
	}, backupMetricLabels)
	backupDurationSeconds = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "helpdesk_backup_duration_seconds",
		Help: "How long the newest successful backup of the instance took.",
	}, backupMetricLabels)
	backupSizeBytes = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "helpdesk_backup_size_bytes",
		Help: "Size of the newest successful (encrypted) backup of the instance.",
	}, backupMetricLabels)
	backupFailureTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "helpdesk_backup_failure_total",
		Help: "Backup Jobs of the instance that failed, each counted once.",
	}, backupMetricLabels)
	backupSuccessTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "helpdesk_backup_success_total",
		Help: "Backup Jobs of the instance that succeeded, each counted once.",
	}, backupMetricLabels)
)

func init() {
	metrics.Registry.MustRegister(backupLastSuccessTimestamp, backupDurationSeconds, backupSizeBytes, backupFailureTotal, backupSuccessTotal)
}

// forgetBackupMetrics drops every series of a deleted policy, so a dashboard does not
// show backups that are no longer taken.
func forgetBackupMetrics(namespace, policy string) {
	labels := prometheus.Labels{"namespace": namespace, "policy": policy}
	for _, v := range []*prometheus.MetricVec{backupLastSuccessTimestamp.MetricVec, backupDurationSeconds.MetricVec, backupSizeBytes.MetricVec, backupFailureTotal.MetricVec, backupSuccessTotal.MetricVec} {
		v.DeletePartialMatch(labels)
	}
}
