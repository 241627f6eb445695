// Package monitoring checks the operator's Prometheus alerts (config/prometheus) and Grafana
// dashboard (config/grafana) against the metrics the operator exports.
package monitoring
