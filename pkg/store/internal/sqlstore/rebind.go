package sqlstore

import (
	"strings"
	"sync"
)

// Rebinder rewrites statements from PostgreSQL's placeholders ($1, $2) to
// SQLite's numbered ones (?1, ?2), once per statement text. SQLite reads
// "$1" as a named parameter and numbers those by first appearance, so a
// statement naming $2 before $1 would bind them the wrong way round.
type Rebinder struct{ done sync.Map } // statement → rewritten

// Rebind returns q with each $N placeholder written ?N.
func (r *Rebinder) Rebind(q string) string {
	if v, ok := r.done.Load(q); ok {
		return v.(string)
	}
	out := rebind(q)
	r.done.Store(q, out)
	return out
}

// rebind rewrites q's placeholders. The statements hold no '$' in a
// literal or a name, so every '$' before a digit is a placeholder.
func rebind(q string) string {
	var b strings.Builder
	b.Grow(len(q))
	for i := 0; i < len(q); i++ {
		if q[i] == '$' && i+1 < len(q) && q[i+1] >= '0' && q[i+1] <= '9' {
			b.WriteByte('?')
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}
