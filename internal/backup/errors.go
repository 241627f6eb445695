package backup

import "errors"

// ErrIntegrity marks a backup object that failed a check: its SHA-256 or size differs from
// the manifest, or age authentication failed (tampered, truncated or reordered segments).
var ErrIntegrity = errors.New("backup integrity check failed")

// ErrTargetNotEmpty marks a restore refused because the target database or folder holds data.
var ErrTargetNotEmpty = errors.New("restore target is not empty")
