// Package backup is the backup engine: it streams a PostgreSQL dump (pg_dump -Fc -Z0) and the
// attachments folder (a tar stream) through zstd and age encryption, whose file keys Vault
// transit wraps with the instance's own key, to an S3 bucket or a mounted volume; it restores
// only after checking every object end to end, proves restores with drills, and prunes by a
// grandfather-father-son policy.
//
// Layout in a destination (under its prefix):
//
//	backups/<id>/attachments.tar.zst.age   data objects, written first
//	backups/<id>/database.dump.zst.age
//	manifests/<id>.json                    written last: a backup exists once this does
//	drills/<id>.json                       the last restore drill's result
//
// Nothing is buffered whole, in memory or on disk: every stage is a stream.
package backup
