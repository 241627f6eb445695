package controllers

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/resources"
	"github.com/privatedesk/helpdesk-operator/internal/vault"
)

// Crypto-shredding by age. Backups hold personal data that neither a retention run nor an
// erasure can reach: they are encrypted, and rewriting them would defeat their purpose.
// What can reach them is the key. Every backup's file keys are wrapped with one version of
// the instance's transit key, which rotates on schedule; once no backup the destination
// keeps needs a version, the version is deleted from Vault (transit trim), and every copy
// of the backups it encrypted, wherever it went, is unreadable for good.
//
// The rule, conservative by construction: versions below N are trimmed only when
//   - the instance references a RetentionPolicy without a legal hold (the operator shreds
//     only where retention was asked for, and never under a hold) and a BackupPolicy with
//     spec.retention.maxAge (without it backups may be kept for ever);
//   - the newest successful backup of the instance reported, after its pruning succeeded,
//     that the oldest backup it keeps needs version N or newer (the catalog in the
//     destination is the only complete list of kept backups: the status holds 20 records
//     of all instances of the policy), and no unexpired Access export needs an older one;
//   - version N was created more than maxAge (plus a margin for clock skew) ago, so every
//     backup written under an older version is older than maxAge: pruned by age as well
//     as absent from the catalog;
//   - N is at most the latest version (new data always uses the latest).
// The floor only ever rises: new backups use the newest version and pruning only removes.

// keyTrimMargin absorbs clock differences between Vault, the operator and the backup pods.
const keyTrimMargin = time.Hour

// keyTrimRecheck is how often an unchanged instance is checked again when nothing but a
// new backup report could allow a trim.
const keyTrimRecheck = 24 * time.Hour

// maxTrimRecords is the schema's bound on status.encryption.trims.
const maxTrimRecords = 10

// keyTrimChecks remembers when each instance's key was last checked, and for which
// floor, so a reconcile asks Vault only when something changed or time may have.
type keyTrimChecks struct {
	mu     sync.Mutex
	now    func() time.Time
	checks map[types.UID]keyTrimCheck
}

type keyTrimCheck struct {
	floor int
	// minDecryption is what Vault said; a status that says otherwise (its patch was
	// lost) makes the next reconcile look again and record what happened.
	minDecryption int
	next          time.Time
	// announced is the newest trim an Event told of: a status patch that is lost and
	// redone does not tell it twice.
	announced int
}

func newKeyTrimChecks(now func() time.Time) *keyTrimChecks {
	return &keyTrimChecks{now: now, checks: map[types.UID]keyTrimCheck{}}
}

func (c *keyTrimChecks) clock() time.Time {
	if c == nil || c.now == nil {
		return time.Now()
	}
	return c.now()
}

// due says whether the instance's key must be read: never checked, a new floor, a status
// that does not show the last check, or time.
func (c *keyTrimChecks) due(uid types.UID, floor, statusMin int, now time.Time) (bool, time.Duration) {
	if c == nil {
		return true, 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	last, ok := c.checks[uid]
	if !ok || last.floor != floor || last.minDecryption != statusMin || !now.Before(last.next) {
		return true, 0
	}
	return false, last.next.Sub(now)
}

func (c *keyTrimChecks) remember(uid types.UID, check keyTrimCheck) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	check.announced = max(check.announced, c.checks[uid].announced)
	c.checks[uid] = check
}

// announce says whether a trim to minAvailable is yet to be told of, and notes it told.
func (c *keyTrimChecks) announce(uid types.UID, minAvailable int) bool {
	if c == nil {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	last := c.checks[uid]
	if last.announced >= minAvailable {
		return false
	}
	last.announced = minAvailable
	c.checks[uid] = last
	return true
}

// shreddingBasis is what the operator knows, without asking Vault, about which versions
// of an instance's key are still needed.
type shreddingBasis struct {
	// floor is the oldest version a kept backup or a live export needs.
	floor int
	// maxAge is the BackupPolicy's spec.retention.maxAge.
	maxAge       time.Duration
	backupPolicy string
}

// shreddingBasisFor gathers the basis; nil when crypto-shredding does not apply to the
// instance (see the rule above).
func (r *HelpdeskInstanceReconciler) shreddingBasisFor(ctx context.Context, inst *v1alpha1.HelpdeskInstance) (*shreddingBasis, error) {
	if inst.Spec.RetentionPolicyRef == nil || inst.Spec.BackupPolicyRef == nil {
		return nil, nil
	}
	retention := &v1alpha1.RetentionPolicy{}
	if err := readPolicy(ctx, r.Client, client.ObjectKey{Namespace: inst.Namespace, Name: inst.Spec.RetentionPolicyRef.Name}, retention); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	if hold := retention.Spec.LegalHold; hold != nil && hold.Enabled {
		return nil, nil
	}
	backups := &v1alpha1.BackupPolicy{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: inst.Namespace, Name: inst.Spec.BackupPolicyRef.Name}, backups); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	if backups.Spec.Retention.MaxAge == nil {
		return nil, nil
	}
	floor := retainedKeyFloor(&backups.Status, resources.InstanceLabel(inst))
	if floor == 0 {
		return nil, nil
	}
	requests := &v1alpha1.DataSubjectRequestList{}
	if err := r.List(ctx, requests, client.InNamespace(inst.Namespace)); err != nil && !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("listing the DataSubjectRequests of namespace %s: %w", inst.Namespace, err)
	}
	floor = exportKeyFloor(requests.Items, inst.Name, floor)
	return &shreddingBasis{floor: floor, maxAge: backups.Spec.Retention.MaxAge.Duration, backupPolicy: backups.Name}, nil
}

// retainedKeyFloor is the oldest key version the kept backups of instance need, as its
// newest successful backup whose pruning succeeded reported it; 0 when none did.
func retainedKeyFloor(st *v1alpha1.BackupPolicyStatus, instance string) int {
	var newest *v1alpha1.BackupRecord
	recs := append([]v1alpha1.BackupRecord(nil), st.RecentBackups...)
	if st.LastSuccessfulBackup != nil {
		recs = append(recs, *st.LastSuccessfulBackup)
	}
	for i := range recs {
		rec := &recs[i]
		if rec.Instance != instance || rec.Result != backupSucceeded || rec.OldestKeyVersion <= 0 {
			continue
		}
		if newest == nil || endOf(*rec).After(endOf(*newest)) {
			newest = rec
		}
	}
	if newest == nil {
		return 0
	}
	return newest.OldestKeyVersion
}

// exportKeyFloor lowers floor to the key version of every Access export of instance that
// has not been deleted yet: an export must stay readable until it expires. A request
// still running encrypts with the latest version, which is never trimmed.
func exportKeyFloor(requests []v1alpha1.DataSubjectRequest, instance string, floor int) int {
	for _, req := range requests {
		if e := req.Status.Export; req.Spec.InstanceName == instance && e != nil && e.DeletedAt == nil && e.KeyVersion > 0 {
			floor = min(floor, e.KeyVersion)
		}
	}
	return floor
}

// planKeyTrim returns the version below which kv may be trimmed (0: nothing new may go),
// and when time alone could allow more (zero: only a new floor could).
func planKeyTrim(kv *vault.KeyVersions, floor int, maxAge time.Duration, now time.Time) (int, time.Time) {
	limit := min(floor, kv.Latest)
	horizon := now.Add(-maxAge - keyTrimMargin)
	target := 0
	var recheck time.Time
	for _, v := range kv.Versions() {
		if v > limit {
			break
		}
		created := kv.Created[v]
		if created.After(horizon) {
			recheck = created.Add(maxAge + keyTrimMargin)
			break
		}
		target = v
	}
	if target <= max(kv.MinAvailable, 1) {
		return 0, recheck
	}
	return target, recheck
}

// reconcileKeyTrim crypto-shreds the versions of the instance's key that no kept backup
// or live export needs any more, per the rule above, and records each trim in the status
// and an Event. Vault is only asked when the basis changed or time may allow a trim.
func (r *HelpdeskInstanceReconciler) reconcileKeyTrim(ctx context.Context, scope *instanceScope) error {
	inst := scope.inst
	basis, err := r.shreddingBasisFor(ctx, inst)
	if err != nil || basis == nil {
		return err
	}
	enc := inst.Status.Encryption
	if enc == nil || (enc.MinDecryptionVersion > 0 && enc.MinDecryptionVersion >= basis.floor) {
		return nil
	}
	now := r.KeyTrims.clock()
	if due, wait := r.KeyTrims.due(inst.UID, basis.floor, enc.MinDecryptionVersion, now); !due {
		scope.requeue(wait)
		return nil
	}
	kv, err := r.Vault.KeyVersions(ctx, inst.Namespace, inst.Name)
	if err != nil || kv == nil {
		return err
	}
	target, recheck := planKeyTrim(kv, basis.floor, basis.maxAge, now)
	if target > 0 {
		if kv, err = r.Vault.TrimKey(ctx, inst.Namespace, inst.Name, target); err != nil {
			return err
		}
	}
	enc.MinDecryptionVersion = kv.MinDecryption
	keyMinDecryptionVersion.WithLabelValues(inst.Namespace, inst.Name).Set(float64(kv.MinDecryption))
	// Recorded from what Vault says, not from what this reconcile did: a trim whose status
	// patch was lost is recorded by the next one.
	recorded := 0
	if len(enc.Trims) > 0 {
		recorded = enc.Trims[0].MinAvailableVersion
	}
	if kv.MinAvailable > max(recorded, 1) {
		message := fmt.Sprintf("Versions %d to %d of transit key %s: every backup encrypted with them was older than spec.retention.maxAge (%s) of BackupPolicy %s and pruned (the oldest backup kept needs version %d)",
			max(recorded, 1), kv.MinAvailable-1, kv.Name, basis.maxAge, basis.backupPolicy, basis.floor)
		enc.Trims = append([]v1alpha1.KeyTrimRecord{{Time: metav1.NewTime(now.Truncate(time.Second)), MinAvailableVersion: kv.MinAvailable, Message: message}}, enc.Trims...)
		if len(enc.Trims) > maxTrimRecords {
			enc.Trims = enc.Trims[:maxTrimRecords]
		}
		if r.Recorder != nil && r.KeyTrims.announce(inst.UID, kv.MinAvailable) {
			r.Recorder.Eventf(inst, nil, corev1.EventTypeNormal, "KeyVersionsTrimmed", "CryptoShredding",
				"Crypto-shredding trimmed %s; any copy of those backups, wherever it is, can no longer be decrypted", message)
		}
	}
	next := now.Add(keyTrimRecheck)
	if !recheck.IsZero() && recheck.Before(next) {
		next = recheck
	}
	r.KeyTrims.remember(inst.UID, keyTrimCheck{floor: basis.floor, minDecryption: kv.MinDecryption, next: next})
	if !recheck.IsZero() {
		scope.requeue(recheck.Sub(now))
	}
	return nil
}
