package codeocean

// Server versions that brought what this client uses. Each request sends the
// lowest one it needs as Min-Server-Version (the server refuses a request
// asking for more than it is), so an older deployment still answers every
// request it can.
const (
	// baseVersion: data assets by ID, search paged by offset, a
	// computation's attached assets, attaching to a capsule.
	baseVersion = "3.0.0"
	// searchVersion: search paged by next_token, and the optional search
	// fields such as filters.
	searchVersion = "3.1.0"
	// computationAttachVersion: attaching to a running computation (a cloud
	// workstation).
	computationAttachVersion = "4.2.0"
)
