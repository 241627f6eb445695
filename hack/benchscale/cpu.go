package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// clockTicks is the unit of /proc/<pid>/stat's CPU times (USER_HZ, 100 on Linux).
const clockTicks = 100

// cpuTimes is the CPU time, in seconds, each process of the bench has used so far, by
// name: the bench itself ("bench": the baseline's client, or the harness that plays the
// other controllers, counts the Vault requests and watches for convergence) and every
// process it started (kube-apiserver, etcd, vault, the manager). Both phases are
// CPU-bound, so where the CPU goes says more than the wall time alone.
type cpuTimes map[string]float64

// readCPUTimes reads the CPU times of the bench and its descendants from /proc.
func readCPUTimes() (cpuTimes, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	type proc struct {
		parent int
		name   string
		cpu    float64
	}
	procs := map[int]proc{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // ended meanwhile
		}
		// The name is in parentheses and may hold spaces; the fields after it are fixed.
		s := string(data)
		open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || closing < open {
			continue
		}
		fields := strings.Fields(s[closing+1:])
		if len(fields) < 13 {
			continue
		}
		parent, _ := strconv.Atoi(fields[1])
		utime, _ := strconv.ParseFloat(fields[11], 64)
		stime, _ := strconv.ParseFloat(fields[12], 64)
		procs[pid] = proc{parent: parent, name: s[open+1 : closing], cpu: (utime + stime) / clockTicks}
	}
	self := os.Getpid()
	descends := func(pid int) bool {
		for seen := 0; pid > 1 && seen < 64; seen++ {
			if pid == self {
				return true
			}
			pid = procs[pid].parent
		}
		return false
	}
	times := cpuTimes{}
	for pid, p := range procs {
		switch {
		case pid == self:
			times["bench"] += p.cpu
		case descends(p.parent):
			times[processName(p.name)] += p.cpu
		}
	}
	return times, nil
}

// processName shortens the kernel's 15-character command names to the table's.
func processName(comm string) string {
	switch {
	case strings.HasPrefix(comm, "helpdesk-operat"):
		return "manager"
	case strings.HasPrefix(comm, "kube-apiserver"):
		return "apiserver"
	}
	return comm
}

// since is what each process used between before and t.
func (t cpuTimes) since(before cpuTimes) cpuTimes {
	d := cpuTimes{}
	for name, v := range t {
		d[name] = v - before[name]
	}
	return d
}

func (t cpuTimes) total() float64 {
	var sum float64
	for _, v := range t {
		sum += v
	}
	return sum
}

// String lists the processes by name, in a fixed order, then the total.
func (t cpuTimes) String() string {
	names := make([]string, 0, len(t))
	for name := range t {
		names = append(names, name)
	}
	slices.Sort(names)
	var b strings.Builder
	for _, name := range names {
		if t[name] >= 0.05 {
			fmt.Fprintf(&b, "%s %.1f ", name, t[name])
		}
	}
	fmt.Fprintf(&b, "total %.1f", t.total())
	return b.String()
}
