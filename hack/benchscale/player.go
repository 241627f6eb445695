package main

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cnpgv1 "github.com/cloudnative-pg/api/pkg/api/v1"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/resources"
)

// player plays, on the test API server, the controllers that do not run there (as the
// controller tests do): CloudNativePG marks each Cluster ready, the Job controller
// completes each Job, the Deployment controller makes each Deployment available. It also
// watches the instances and their agent Ingresses to tell when they converged.
type player struct {
	c     client.Client
	cache cache.Cache
	queue workqueue.TypedRateLimitingInterface[item]

	mu sync.Mutex
	// ready holds the instances whose Ready is True for their generation.
	ready map[string]bool
	// changed holds the instances whose agent Ingress admits changedCIDR.
	changed map[string]bool
	// wantReady and wantChanged are closed when ready and changed reach want.
	want                    int
	readyDone, changedDone  chan struct{}
	readyClosed, changedCls bool
}

type item struct {
	kind string
	key  types.NamespacedName
}

func startPlayer(ctx context.Context, w *world, want int) (*player, error) {
	ca, err := cache.New(w.config, cache.Options{Scheme: w.env.Scheme, DefaultNamespaces: map[string]cache.Config{benchNamespace: {}}})
	if err != nil {
		return nil, err
	}
	p := &player{
		c: w.client, cache: ca,
		queue: workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[item]()),
		ready: map[string]bool{}, changed: map[string]bool{}, want: want,
		readyDone: make(chan struct{}), changedDone: make(chan struct{}),
	}
	enqueue := func(kind string) toolscache.ResourceEventHandlerFuncs {
		add := func(obj any) {
			o := obj.(client.Object)
			p.queue.Add(item{kind, client.ObjectKeyFromObject(o)})
		}
		return toolscache.ResourceEventHandlerFuncs{AddFunc: add, UpdateFunc: func(_, obj any) { add(obj) }}
	}
	for kind, obj := range map[string]client.Object{"Cluster": &cnpgv1.Cluster{}, "Job": &batchv1.Job{}, "Deployment": &appsv1.Deployment{}} {
		inf, err := ca.GetInformer(ctx, obj)
		if err != nil {
			return nil, err
		}
		if _, err := inf.AddEventHandler(enqueue(kind)); err != nil {
			return nil, err
		}
	}
	inf, err := ca.GetInformer(ctx, &v1alpha1.HelpdeskInstance{})
	if err != nil {
		return nil, err
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc: p.instance, UpdateFunc: func(_, obj any) { p.instance(obj) },
	}); err != nil {
		return nil, err
	}
	inf, err = ca.GetInformer(ctx, &networkingv1.Ingress{})
	if err != nil {
		return nil, err
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc: p.ingress, UpdateFunc: func(_, obj any) { p.ingress(obj) },
	}); err != nil {
		return nil, err
	}
	go func() { _ = ca.Start(ctx) }()
	if !ca.WaitForCacheSync(ctx) {
		return nil, ctx.Err()
	}
	for range 4 {
		go p.work(ctx)
	}
	go func() {
		<-ctx.Done()
		p.queue.ShutDown()
	}()
	return p, nil
}

func (p *player) instance(obj any) {
	inst := obj.(*v1alpha1.HelpdeskInstance)
	ready := meta.FindStatusCondition(inst.Status.Conditions, v1alpha1.ConditionReady)
	ok := ready != nil && ready.Status == metav1.ConditionTrue && ready.ObservedGeneration == inst.Generation && inst.Status.ObservedGeneration == inst.Generation
	p.mu.Lock()
	defer p.mu.Unlock()
	if ok {
		p.ready[inst.Name] = true
	} else {
		delete(p.ready, inst.Name)
	}
	if len(p.ready) >= p.want && !p.readyClosed {
		p.readyClosed = true
		close(p.readyDone)
	}
}

func (p *player) ingress(obj any) {
	ing := obj.(*networkingv1.Ingress)
	name, ok := strings.CutSuffix(ing.Name, "-agent")
	if !ok {
		return
	}
	if !strings.Contains(ing.Annotations[resources.AnnotationNginxAllowList], changedCIDR) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.changed[name] = true
	if len(p.changed) >= p.want && !p.changedCls {
		p.changedCls = true
		close(p.changedDone)
	}
}

// counts says how many instances are ready and re-rendered so far.
func (p *player) counts() (ready, changed int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.ready), len(p.changed)
}

func (p *player) work(ctx context.Context) {
	for {
		it, shutdown := p.queue.Get()
		if shutdown {
			return
		}
		if err := p.play(ctx, it); err != nil && ctx.Err() == nil {
			p.queue.AddRateLimited(it)
		} else {
			p.queue.Forget(it)
		}
		p.queue.Done(it)
	}
}

// play gives the object the status its controller would, when it lacks it.
func (p *player) play(ctx context.Context, it item) error {
	var obj client.Object
	var status any
	now := metav1.Now()
	switch it.kind {
	case "Cluster":
		c := &cnpgv1.Cluster{}
		if err := p.cache.Get(ctx, it.key, c); err != nil {
			return client.IgnoreNotFound(err)
		}
		if meta.IsStatusConditionTrue(c.Status.Conditions, string(cnpgv1.ConditionClusterReady)) {
			return nil
		}
		obj, status = c, cnpgv1.ClusterStatus{Phase: cnpgv1.PhaseHealthy, ReadyInstances: c.Spec.Instances,
			Conditions: []metav1.Condition{{Type: string(cnpgv1.ConditionClusterReady), Status: metav1.ConditionTrue, Reason: "ClusterIsReady", LastTransitionTime: now}}}
	case "Job":
		j := &batchv1.Job{}
		if err := p.cache.Get(ctx, it.key, j); err != nil {
			return client.IgnoreNotFound(err)
		}
		if j.Status.CompletionTime != nil {
			return nil
		}
		obj, status = j, batchv1.JobStatus{StartTime: &now, CompletionTime: &now, Succeeded: 1, Conditions: []batchv1.JobCondition{
			{Type: batchv1.JobSuccessCriteriaMet, Status: "True", LastTransitionTime: now},
			{Type: batchv1.JobComplete, Status: "True", LastTransitionTime: now},
		}}
	case "Deployment":
		d := &appsv1.Deployment{}
		if err := p.cache.Get(ctx, it.key, d); err != nil {
			return client.IgnoreNotFound(err)
		}
		r := int32(1)
		if d.Spec.Replicas != nil {
			r = *d.Spec.Replicas
		}
		if d.Status.ObservedGeneration >= d.Generation && d.Status.AvailableReplicas == r && d.Status.UpdatedReplicas == r {
			return nil
		}
		obj, status = d, appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: r, UpdatedReplicas: r, ReadyReplicas: r, AvailableReplicas: r}
	}
	body, err := json.Marshal(map[string]any{"status": status})
	if err != nil {
		return err
	}
	return p.c.Status().Patch(ctx, obj, client.RawPatch(types.MergePatchType, body))
}

// wait waits for done, printing progress every interval, until timeout.
func waitProgress(ctx context.Context, done <-chan struct{}, timeout time.Duration, progress func()) bool {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	deadline := time.After(timeout)
	for {
		select {
		case <-done:
			return true
		case <-deadline:
			return false
		case <-ctx.Done():
			return false
		case <-t.C:
			progress()
		}
	}
}

var _ runtime.Object = (*v1alpha1.HelpdeskInstance)(nil)
