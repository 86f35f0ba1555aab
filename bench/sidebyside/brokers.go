package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// system names, in the order runs alternate (A B A B).
const (
	sysSamsa = "samsa"
	sysKafka = "kafka"
)

var systems = []string{sysSamsa, sysKafka}

// broker is one running (or stopped) broker process with its own data
// directory, which survives restarts.
type broker struct {
	name    string // sysSamsa or sysKafka
	mode    string // pagecache or fsync
	addr    string // Kafka listener, 127.0.0.1:port
	dir     string // everything of this broker: data, config, log
	dataDir string
	cmdline []string // how it is started (for the report)
	env     []string

	cmd  *exec.Cmd
	done chan struct{}
	logf *os.File
}

// brokerSettings is what both systems are configured with.
type brokerSettings struct {
	samsaBin  string
	classpath string
	kafkaHeap string // e.g. 1g: -Xms and -Xmx
	pprof     bool   // Samsa serves /debug/pprof (samsa.admin.pprof.enable)
	samsaEnv  []string
	adminAddr string // Samsa's admin listener, set when started
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// newBroker prepares (but does not start) a broker in a fresh directory
// under parent. Kafka's storage is formatted here.
func newBroker(name, mode, parent string, s *brokerSettings) (*broker, error) {
	dir, err := os.MkdirTemp(parent, name+"-"+mode+"-")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	port2, err := freePort()
	if err != nil {
		return nil, err
	}
	b := &broker{name: name, mode: mode, addr: "127.0.0.1:" + strconv.Itoa(port), dir: dir, dataDir: filepath.Join(dir, "data")}
	switch name {
	case sysSamsa:
		durability := "pagecache"
		if mode == "fsync" {
			durability = "sync"
		}
		s.adminAddr = "127.0.0.1:" + strconv.Itoa(port2)
		b.cmdline = []string{s.samsaBin, "serve",
			"--listeners", "PLAINTEXT://" + b.addr,
			"--log-dirs", b.dataDir,
			"--admin-listener", s.adminAddr,
			"--log-durability", durability,
			"--log-level", "warn",
		}
		if s.pprof {
			b.cmdline = append(b.cmdline, "--override", "samsa.admin.pprof.enable=true")
		}
		b.env = s.samsaEnv
	case sysKafka:
		props := []string{
			"process.roles=broker,controller", "node.id=1",
			"controller.quorum.voters=1@127.0.0.1:" + strconv.Itoa(port2),
			"listeners=PLAINTEXT://" + b.addr + ",CONTROLLER://127.0.0.1:" + strconv.Itoa(port2),
			"advertised.listeners=PLAINTEXT://" + b.addr,
			"controller.listener.names=CONTROLLER", "inter.broker.listener.name=PLAINTEXT",
			"listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
			"log.dirs=" + b.dataDir,
			"num.partitions=1",
			"offsets.topic.replication.factor=1", "transaction.state.log.replication.factor=1",
			"transaction.state.log.min.isr=1", "group.initial.rebalance.delay.ms=0",
			// two shared cores: a slow heartbeat must not fence the only broker
			"broker.session.timeout.ms=60000", "broker.heartbeat.interval.ms=2000",
		}
		if mode == "fsync" {
			// Kafka's flush.messages=1: fsync the partition after every append.
			props = append(props, "log.flush.interval.messages=1")
		}
		propsFile := filepath.Join(dir, "server.properties")
		if err := os.WriteFile(propsFile, []byte(strings.Join(props, "\n")+"\n"), 0o644); err != nil {
			return nil, err
		}
		java := []string{"java", "-Xms" + s.kafkaHeap, "-Xmx" + s.kafkaHeap,
			// kafka-run-class.sh's KAFKA_JVM_PERFORMANCE_OPTS
			"-server", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:InitiatingHeapOccupancyPercent=35",
			"-XX:+ExplicitGCInvokesConcurrent", "-Djava.awt.headless=true",
			"-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
			"-cp", s.classpath}
		format := exec.Command(java[0], append(append([]string{}, java[1:]...), "kafka.tools.StorageTool", "format", "-t", "c2Ftc2EtYmVuY2gtcmVm", "-c", propsFile)...)
		if out, err := format.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("format Kafka storage: %v\n%s", err, out)
		}
		b.cmdline = append(java, "kafka.Kafka", propsFile)
	}
	return b, nil
}

// start launches the broker and waits until it answers Metadata with a
// leader for every partition of the topics named (none: any answer). It
// returns the time from the exec to that answer.
func (b *broker) start(topics map[string]int) (time.Duration, error) {
	if b.running() {
		return 0, fmt.Errorf("%s is already running", b.name)
	}
	logf, err := os.OpenFile(filepath.Join(b.dir, "broker.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, err
	}
	b.logf = logf
	b.cmd = exec.Command(b.cmdline[0], b.cmdline[1:]...)
	b.cmd.Env = append(os.Environ(), b.env...)
	b.cmd.Stdout, b.cmd.Stderr = logf, logf
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	began := time.Now()
	if err := b.cmd.Start(); err != nil {
		logf.Close()
		return 0, err
	}
	b.done = make(chan struct{})
	go func() { b.cmd.Wait(); close(b.done) }()
	if err := b.waitMetadata(topics, began.Add(5*time.Minute)); err != nil {
		b.stop()
		return 0, fmt.Errorf("%s: %v\n%s", b.name, err, b.logTail())
	}
	return time.Since(began), nil
}

// waitMetadata polls with real Metadata requests until every partition of
// topics has a leader (or, with no topics, until a broker is listed).
func (b *broker) waitMetadata(topics map[string]int, deadline time.Time) error {
	var last error
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.addr), kgo.RequestRetries(0), kgo.DialTimeout(time.Second),
		kgo.MetadataMinAge(10*time.Millisecond))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	names := make([]string, 0, len(topics))
	for t := range topics {
		names = append(names, t)
	}
	for {
		if !b.running() {
			return errors.New("the broker exited during start-up")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		md, err := adm.Metadata(ctx, names...)
		cancel()
		if err == nil {
			last = metadataComplete(md, topics)
			if last == nil {
				return nil
			}
		} else {
			last = err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("metadata incomplete at the deadline: %v", last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func metadataComplete(md kadm.Metadata, topics map[string]int) error {
	if len(md.Brokers) == 0 {
		return errors.New("no broker in metadata")
	}
	for t, n := range topics {
		td, ok := md.Topics[t]
		if !ok || td.Err != nil {
			return fmt.Errorf("topic %s: %v", t, td.Err)
		}
		if len(td.Partitions) != n {
			return fmt.Errorf("topic %s: %d of %d partitions", t, len(td.Partitions), n)
		}
		for _, p := range td.Partitions {
			if p.Err != nil || p.Leader < 0 {
				return fmt.Errorf("topic %s partition %d: leader %d, %v", t, p.Partition, p.Leader, p.Err)
			}
		}
	}
	return nil
}

func (b *broker) running() bool {
	if b.done == nil {
		return false
	}
	select {
	case <-b.done:
		return false
	default:
		return true
	}
}

// stop shuts the broker down gracefully (SIGTERM), killing it after 3
// minutes.
func (b *broker) stop() time.Duration {
	if !b.running() {
		return 0
	}
	began := time.Now()
	b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(3 * time.Minute):
		syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
		<-b.done
	}
	b.logf.Close()
	return time.Since(began)
}

func (b *broker) pid() int { return b.cmd.Process.Pid }

// cpuSeconds is the broker's user+system CPU time so far (/proc/<pid>/stat
// utime+stime, in clock ticks of 1/100 s on Linux).
func (b *broker) cpuSeconds() (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", b.pid()))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields after ")" are fixed.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("unexpected /proc stat %q", s)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc stat %q", s)
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return (ut + st) / 100, nil
}

// memory returns VmRSS and VmHWM (peak RSS) in bytes.
func (b *broker) memory() (rss, peak int64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", b.pid()))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmRSS":
			rss = n << 10
		case "VmHWM":
			peak = n << 10
		}
	}
	return rss, peak, nil
}

// resetPeak resets VmHWM to the current RSS (writing 5 to clear_refs).
func (b *broker) resetPeak() error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", b.pid()), []byte("5"), 0)
}

func (b *broker) logTail() string {
	data, _ := os.ReadFile(filepath.Join(b.dir, "broker.log"))
	if len(data) > 4000 {
		data = data[len(data)-4000:]
	}
	return string(bytes.TrimSpace(data))
}

// remove deletes the broker's directory; the broker must be stopped.
func (b *broker) remove() error {
	if b.running() {
		b.stop()
	}
	return os.RemoveAll(b.dir)
}
