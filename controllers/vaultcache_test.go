package controllers

import (
	"testing"
	"time"

	"github.com/privatedesk/helpdesk-operator/internal/vault"
)

func TestVaultStatesAnswerOnlyForTheSameTenantUntilDue(t *testing.T) {
	c := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	states := newVaultStates(time.Hour, c.Now)
	tenant := vault.Tenant{Namespace: "ns", Name: "desk", UID: "u1"}
	asked := digest(tenant, nil)
	if _, _, ok := states.lookup("u1", asked); ok {
		t.Fatal("a state was known before any was remembered")
	}
	wait := states.remember("u1", asked, vault.TenantStatus{KeyName: "k", LatestVersion: 2, Adopted: true}, map[string][]byte{"a": []byte("b")})
	if wait < time.Hour || wait > time.Hour+6*time.Minute {
		t.Errorf("recheck after %s, want an hour plus at most a tenth", wait)
	}
	got, left, ok := states.lookup("u1", asked)
	if !ok || got.status.KeyName != "k" || got.status.Adopted || string(got.secrets["a"]) != "b" || left != wait {
		t.Errorf("lookup = %+v, %s, %t", got, left, ok)
	}
	tenant.RotationPeriod = time.Hour
	if _, _, ok := states.lookup("u1", digest(tenant, nil)); ok {
		t.Error("a changed tenant was answered from memory")
	}
	if _, _, ok := states.lookup("u2", asked); ok {
		t.Error("another instance was answered from memory")
	}
	c.advance(wait)
	if _, _, ok := states.lookup("u1", asked); ok {
		t.Error("a due state was answered from memory")
	}
	states.remember("u1", asked, vault.TenantStatus{}, nil)
	states.forget("u1")
	if _, _, ok := states.lookup("u1", asked); ok {
		t.Error("a forgotten state was answered")
	}
	if _, _, ok := newVaultStates(0, c.Now).lookup("u1", asked); ok {
		t.Error("interval 0 must ask Vault every time")
	}
}
