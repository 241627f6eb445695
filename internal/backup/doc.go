// Package backup is the backup engine: it streams a PostgreSQL dump (pg_dump -Fc -Z0) and the
// attachments folder (a tar stream) through zstd and age encryption, whose file keys Vault
// transit wraps with the instance's own key, to an S3 bucket or a mounted volume; it restores
// only objects that match their signed manifest, proves restores with drills in a throwaway
// PostgreSQL server, and prunes by a grandfather-father-son policy.
//
// Several instances may share one destination (a BackupPolicy's bucket and prefix, or its
// volume path). Each instance works only in its own folder, <namespace>/<name>/ below it
// (Instance.Folder), which the engine adds itself:
//
//	<namespace>/<name>/backups/<id>/attachments.tar.zst.age   data objects, written first
//	<namespace>/<name>/backups/<id>/database.dump.zst.age
//	<namespace>/<name>/manifests/<id>.json                    written last: a backup exists once this does
//	<namespace>/<name>/drills/<id>.json                       the last restore drill's result (DrillResult)
//
// A manifest (see Manifest) looks like:
//
//	{
//	  "format": 2,
//	  "id": "20261124T043312Z-1a2b3c",
//	  "instance": {"namespace": "ns", "name": "desk"},
//	  "appVersion": "helpy-2.8.0",
//	  "startedAt": "2026-11-24T04:33:12Z", "finishedAt": "2026-11-24T04:33:15Z",
//	  "encryption": {"scheme": "age+vault-transit", "transitMount": "transit",
//	                 "keyName": "helpdesk_ns_desk", "keyVersion": 3},
//	  "postgres": {"serverVersion": "15.14", "database": "app",
//	               "tables": {"public.tickets": 4000, "public.users": 2500}},
//	  "objects": [{"name": "backups/.../database.dump.zst.age", "kind": "database",
//	               "size": 680687, "sha256": "…", "plainSize": 2715648}],
//	  "attachments": {"files": 5, "dirs": 9, "bytes": 405233},
//	  "signatureScheme": "vault-transit-hmac-sha2-256",
//	  "signature": "vault:v3:…"
//	}
//
// Sizes and hashes are of the stored ciphertext. Each object's age header holds its file key
// wrapped by transit (vault:vN:…), so a restore needs the same transit key, at any version
// the key still decrypts. The signature is the transit HMAC (sha2-256) of the SHA-256 of the
// manifest without it: the backup Job makes it with transit hmac, and restores, drills and
// lists check it with transit verify, so none of them needs more than its own Vault rights
// (backup: encrypt, hmac, verify; restore and drill: decrypt, verify; list: verify), and
// only the backup role can make one.
//
// Every catalog operation (List, "latest", Prune, Restore, Verify) trusts only manifests
// whose signature verifies with the engine's transit key and that record the engine's
// instance and key; others are ignored and counted (trust.go), never restored, and never
// deleted by retention, nor is their data. A Vault failure aborts the operation rather
// than counting as a bad signature.
//
// Errors never quote what PostgreSQL or pg_restore said, nor attachment file names: they
// can hold personal data, and errors end up in Kubernetes status. Failures are classified
// instead (failure.go).
//
// Nothing is buffered whole, in memory or on disk: every stage is a stream.
package backup
