package retention

import "github.com/privatedesk/helpdesk-operator/api/v1alpha1"

// seen remembers, during a dry run or legal hold, which records earlier batches would have
// deleted or anonymized. Those batches were rolled back, so the records are still there;
// without this a later rule of the same run (AllTickets after ClosedTickets) would count
// them again, and the dry run would report more than a real run does.
//
// Ids are serial primary keys, dense from 1, so a bitset per table costs one bit per id
// ever issued (12.5 MB at 100 million), far less than a set of every id.
type seen map[string]*seenTable

type seenTable struct {
	deleted, anonymized bitset
}

// filter drops ids an earlier rule would have deleted, and, for Anonymize, ids an earlier
// rule would already have anonymized (a real run's candidates leave those out).
func (s seen) filter(table string, action v1alpha1.RetentionAction, ids []int64) []int64 {
	t := s[table]
	if t == nil {
		return ids
	}
	out := ids[:0:0]
	for _, id := range ids {
		if t.deleted.has(id) || (action == v1alpha1.RetentionActionAnonymize && t.anonymized.has(id)) {
			continue
		}
		out = append(out, id)
	}
	return out
}

func (s seen) add(table string, action v1alpha1.RetentionAction, ids []int64) {
	t := s[table]
	if t == nil {
		t = &seenTable{}
		s[table] = t
	}
	for _, id := range ids {
		if action == v1alpha1.RetentionActionDelete {
			t.deleted.set(id)
		} else {
			t.anonymized.set(id)
		}
	}
}

type bitset []uint64

func (b bitset) has(i int64) bool {
	w := i / 64
	return i >= 0 && w < int64(len(b)) && b[w]&(1<<(uint(i)%64)) != 0
}

func (b *bitset) set(i int64) {
	if i < 0 {
		return
	}
	w := i / 64
	if w >= int64(len(*b)) {
		grown := make(bitset, max(w+1, int64(2*len(*b))))
		copy(grown, *b)
		*b = grown
	}
	(*b)[w] |= 1 << (uint(i) % 64)
}
