// Package resources builds the desired state of every child object of a
// HelpdeskInstance. Each builder is a pure function of the instance, its app profile, the
// operator's Options and, for some, a value the controller computed: no client, no clock,
// no randomness. Every object comes back complete (TypeMeta, namespace, deterministic
// name, labels, controller owner reference) so the controller can server-side apply it
// with one field manager and a repeated apply is a no-op.
//
// Builders that return nil mean "this object should not exist" (the PodDisruptionBudget
// with one replica, the app Secret with Vault Agent delivery); the controller deletes a
// leftover one.
//
// Isolation rests on the label helpdesk.privatedesk.io/instance: CloudNativePG sets the
// app.kubernetes.io/* labels of its pods to its own values, so the operator's own label
// (inherited by the database pods through the Cluster's inheritedMetadata) is the one
// every NetworkPolicy selects on.
//
// Helpy publishes no image built from master. Build one from Helpy's Dockerfile
// (docker build -t registry.example.com/helpy:<commit> .) and pass it with the
// operator's default image option or spec.app.image; the builders expect it to run as
// UID 1000 with the application in /helpy.
package resources
