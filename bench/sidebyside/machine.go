package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// machine describes where the figures were measured.
type machine struct {
	CPUs       int    `json:"cpus"`
	CPUModel   string `json:"cpu_model"`
	MemTotal   string `json:"mem_total"`
	Disk       string `json:"disk"`
	Kernel     string `json:"kernel"`
	Go         string `json:"go"`
	Java       string `json:"java"`
	Kafka      string `json:"kafka"`
	SamsaRev   string `json:"samsa_revision"`
	Filesystem string `json:"filesystem"`
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(s)
}

func describeMachine(dataDir, samsaBin string) machine {
	m := machine{CPUs: runtime.NumCPU(), Kafka: "Apache Kafka 4.4.0 (Maven Central: kafka_2.13, kafka-server, kafka-tools)"}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		fmt.Sscan(strings.Fields(firstLine(string(data)))[1], &kb)
		m.MemTotal = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
	}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		m.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	if out, err := exec.Command("go", "version").Output(); err == nil {
		m.Go = firstLine(string(out))
	}
	if out, err := exec.Command("java", "-version").CombinedOutput(); err == nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		m.Java = strings.TrimSpace(strings.Join(lines, "; "))
	}
	if rev := os.Getenv("BENCH_SAMSA_REV"); rev != "" {
		m.SamsaRev = rev // set by bench/run.sh: what the binary was built from
	} else if out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		m.SamsaRev = firstLine(string(out))
	}
	if out, err := exec.Command("df", "-hT", dataDir).Output(); err == nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if f := strings.Fields(lines[len(lines)-1]); len(f) >= 3 {
			m.Filesystem = f[1] + " on " + f[0] + " (" + f[2] + ")"
			dev := strings.TrimPrefix(f[0], "/dev/")
			rot, _ := os.ReadFile("/sys/block/" + dev + "/queue/rotational")
			sched, _ := os.ReadFile("/sys/block/" + dev + "/queue/scheduler")
			kind := "non-rotational"
			if strings.TrimSpace(string(rot)) == "1" {
				kind = "reports rotational"
			}
			if strings.HasPrefix(dev, "vd") {
				kind = "virtio block device (" + kind + ")"
			}
			m.Disk = dev + ": " + kind + ", I/O scheduler " + strings.TrimSpace(string(sched))
		}
	}
	return m
}
