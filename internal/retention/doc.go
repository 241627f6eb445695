// Package retention runs retention rules and data-subject requests inside one helpdesk's
// database, application-agnostic: what a data class or a request means (which rows of
// which tables, found how, changed how) is data in the app profile
// (appprofile.Retention), and this package only runs it, safely:
//
//   - in batches of at most BatchSize records, each batch one transaction with a short
//     lock_timeout and statement_timeout, which first selects and locks its candidate
//     ids (FOR UPDATE SKIP LOCKED, by primary key after the previous batch's last id)
//     and then acts on exactly those ids, so no statement locks a whole table and a row
//     the application is changing is left for the next run;
//   - attachment folders of a batch are removed only after its transaction committed; a
//     crash in between leaves orphan folders, which every run removes first (see
//     sweepOrphans);
//   - a dry run and a legal hold run every batch as a real run would and roll it back, so
//     their counts are what a real run would change (rules that overlap are accounted
//     for: see seen); they remove no file;
//   - a failed batch stops the run: earlier batches stay committed, the result is Failed
//     with a Reason, and no error or log line carries row data, addresses or file names.
//
// Data-subject requests (Access, Erasure, Rectification) are in the dsr subpackage; the
// subcommands of the operator binary that run both are in cli.
package retention
