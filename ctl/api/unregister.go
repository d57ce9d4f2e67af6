package api

// PathRegistration is the user's name on the tracker; DELETE removes it
// (`chatctl unregister`) and answers UnregisterResult.
const PathRegistration = "/v1/registration"

// UnregisterResult says which name was deleted from which tracker.
type UnregisterResult struct {
	Name    string `json:"name"`
	Tracker string `json:"tracker"`
}
