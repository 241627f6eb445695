package appprofile

import (
	_ "embed"
)

// ConfigFile is a file of application code or configuration that the operator places into
// the app container. The builders carry it in a ConfigMap, so it must hold neither secrets
// nor personal data; a change to it rolls the app pods.
type ConfigFile struct {
	// Key in the ConfigMap (letters, digits, '-', '_' and '.'), unique in the profile.
	Key string
	// Path is the absolute path of the file in the app container, unique in the profile.
	Path string
	// Content of the file.
	Content string
}

// helpyPrivateUploads is a Rails initializer that answers 404 to requests for the
// attachments of private tickets unless the request carries a Helpy session whose user
// may read the ticket; see the file and docs/security/attachments.md.
//
//go:embed helpy/private_uploads.rb
var helpyPrivateUploads string

// helpyConfigFiles returns a fresh slice, so that callers of For may modify theirs.
func helpyConfigFiles() []ConfigFile {
	return []ConfigFile{{
		Key: "helpdesk_private_uploads.rb",
		// Rails loads every file in config/initializers at boot; the name does not
		// matter for the order, as the initializer reads other settings per request.
		Path:    "/helpy/config/initializers/helpdesk_private_uploads.rb",
		Content: helpyPrivateUploads,
	}}
}
