package resolve

import "github.com/aind/aindfs/store"

// Forget drops the cached answers about the given sessions (every session
// when none is given), and the searches, bucket probes, listings and local
// folders they came from, so that an asset made or attached since shows up
// at the next question. Where assets live and whether a sorting failed are
// kept: assets never change once made. It returns how many answers were
// dropped.
func (r *Resolver) Forget(sessions ...Session) int {
	all := func(string) bool { return true }
	of := func(s Session) bool {
		if len(sessions) == 0 {
			return true
		}
		for _, x := range sessions {
			if x == s {
				return true
			}
		}
		return false
	}
	n := r.searches.forget(all) + r.byID.forget(all) + r.probes.forget(all)
	n += r.local.forget(func(struct{}) bool { return true })
	n += r.listings.forget(func(store.URI) bool { return true })
	n += r.assets.forget(of) + r.raws.forget(of) + r.decided.forget(of) + r.fullRecords.forget(of)
	n += r.subjectRecs.forget(func(subj Subject) bool {
		for _, s := range sessions {
			if s.Subject() == subj {
				return true
			}
		}
		return len(sessions) == 0
	})
	return n
}
