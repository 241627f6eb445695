package retention

import (
	"time"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
)

// Run results.
const (
	Succeeded = "Succeeded"
	Failed    = "Failed"
)

// Result of a retention run: what the `retention` subcommand prints as its last line and
// what the controller copies into RetentionPolicy.status.lastRun. It holds counts, never
// data.
type Result struct {
	// Result is Succeeded or Failed.
	Result string `json:"result"`
	// DryRun and LegalHold repeat how the run was asked to run; Changed is false when it
	// changed nothing (dry run, legal hold, or nothing to do).
	DryRun    bool `json:"dryRun"`
	LegalHold bool `json:"legalHold"`
	Changed   bool `json:"changed"`
	// Note says in words what kind of run this was ("legal hold: ...").
	Note           string    `json:"note,omitempty"`
	StartTime      time.Time `json:"startTime"`
	CompletionTime time.Time `json:"completionTime"`
	// DurationSeconds of the whole run.
	DurationSeconds float64 `json:"durationSeconds"`
	// Affected counts, per data class, the records acted on (or that would have been):
	// status.lastRun.affected. After a failure it counts what the committed batches did.
	Affected map[string]int64 `json:"affected"`
	// Rules in the order they ran; a failed run lists the rules up to the failed one.
	Rules []RuleResult `json:"rules"`
	// OrphanFiles counts files in orphan folders removed (or found, when nothing may
	// change) before the rules ran.
	OrphanFiles int64 `json:"orphanFiles"`
	// IndexesCreated are the profile's indexes this run created; IndexWarning says why
	// one could not be (the run goes on without it).
	IndexesCreated []string `json:"indexesCreated,omitempty"`
	IndexWarning   string   `json:"indexWarning,omitempty"`
	// MaxBatchMillis is the longest any batch transaction was open, from its first lock
	// (the candidate selection) to its commit or rollback returning: an upper bound of
	// how long any row or table lock of the run was held.
	MaxBatchMillis int64 `json:"maxBatchMillis"`
	// Reason and Error say why the run failed.
	Reason Reason `json:"reason,omitempty"`
	Error  string `json:"error,omitempty"`
}

// RuleResult is what one rule did.
type RuleResult struct {
	DataClass v1alpha1.DataClass       `json:"dataClass"`
	Action    v1alpha1.RetentionAction `json:"action"`
	OlderThan string                   `json:"olderThan"`
	// Cutoff is now minus OlderThan: records older than it were acted on.
	Cutoff time.Time `json:"cutoff"`
	// Records counts the records acted on, summed over Sweeps.
	Records int64 `json:"records"`
	// Sweeps counts records per kind ("tickets", "exports").
	Sweeps map[string]int64 `json:"sweeps"`
	// Rows counts the rows each table had changed or deleted, dependent rows included.
	Rows map[string]int64 `json:"rows"`
	// Files counts the attachment files removed (or that would have been).
	Files int64 `json:"files"`
	// Batches run, and the longest one's lock time.
	Batches        int   `json:"batches"`
	MaxBatchMillis int64 `json:"maxBatchMillis"`
	// Completed is false for the rule a failed run stopped in.
	Completed bool `json:"completed"`
}
