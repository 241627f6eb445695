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
//	drills/<id>.json                       the last restore drill's result (DrillResult)
//
// A manifest (see Manifest) looks like:
//
//	{
//	  "format": 1,
//	  "id": "20261124T043312Z-1a2b3c",
//	  "instance": {"namespace": "ns", "name": "desk"},
//	  "appVersion": "helpy-2.8.0",
//	  "startedAt": "2026-11-24T04:33:12Z", "finishedAt": "2026-11-24T04:33:15Z",
//	  "encryption": {"scheme": "age+vault-transit", "transitMount": "transit",
//	                 "keyName": "helpdesk-ns-desk", "keyVersion": 3},
//	  "postgres": {"serverVersion": "15.14", "database": "app",
//	               "tables": {"public.tickets": 4000, "public.users": 2500}},
//	  "objects": [{"name": "backups/.../database.dump.zst.age", "kind": "database",
//	               "size": 680687, "sha256": "…", "plainSize": 2715648}],
//	  "attachments": {"files": 5, "dirs": 9, "bytes": 405233},
//	  "signature": "vault:v3:…"
//	}
//
// Sizes and hashes are of the stored ciphertext. Each object's age header holds its file key
// wrapped by transit (vault:vN:…), so a restore needs the same transit key, at any version
// the key still decrypts. The signature is the transit encryption of the SHA-256 of the
// manifest without it, so an edited manifest is refused with only encrypt/decrypt rights.
//
// Nothing is buffered whole, in memory or on disk: every stage is a stream.
package backup
