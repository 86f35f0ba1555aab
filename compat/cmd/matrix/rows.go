package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// The tool scenarios.
var (
	cliColumns = []string{"topics", "console", "consumer-groups", "configs", "producer-perf", "consumer-perf",
		"metadata-quorum", "broker-api-versions", "topic-leaders"}
	streamsColumns = []string{"wordcount-eos"}
	connectColumns = []string{"filestream"}
)

// rows lists every client and tool with the program that runs its scenarios.
// Paths are relative to the repository root, where scenarios run.
func rows(s *suite) (clients, tools []row) {
	java := func(class string) func(string) []string {
		return func(scenario string) []string {
			cp, _ := os.ReadFile(filepath.Join(s.root, "compat", "java", "target", "classpath.txt"))
			return []string{"java", "-Xmx512m", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
				"-cp", "compat/java/target/classes:" + strings.TrimSpace(string(cp)), "compat." + class, scenario}
		}
	}
	javaBuilt := func() error {
		if !exists(s, "compat/java/target/classpath.txt") || !exists(s, "compat/java/target/classes/compat/Clients.class") {
			return errors.New("Java scenarios not built (compat/run.sh builds them)")
		}
		return onPath("java")
	}
	python := func(script string) func(string) []string {
		return func(scenario string) []string {
			return []string{"compat/.venv/bin/python", "compat/python/" + script, scenario}
		}
	}
	venv := func(module string) func() error {
		return func() error {
			if !exists(s, "compat/.venv/bin/python") {
				return errors.New("compat/.venv missing (compat/run.sh creates it)")
			}
			if err := exec.Command(filepath.Join(s.root, "compat/.venv/bin/python"), "-c", "import "+module).Run(); err != nil {
				return fmt.Errorf("python module %s not installed in compat/.venv", module)
			}
			return nil
		}
	}
	goProgram := func(bin string, args ...string) func(string) []string {
		return func(scenario string) []string {
			return append(append([]string{filepath.Join(s.out, bin)}, args...), scenario)
		}
	}
	goBuilt := func(bin string) func() error {
		return func() error {
			if reason, err := os.ReadFile(filepath.Join(s.out, bin+".unavailable")); err == nil {
				return errors.New(oneLine(string(reason)))
			}
			if _, err := os.Stat(filepath.Join(s.out, bin)); err != nil {
				return fmt.Errorf("%s not built (compat/run.sh builds it)", bin)
			}
			return nil
		}
	}
	clients = []row{
		{Name: "Java kafka-clients", Columns: javaColumns, Cmd: java("Clients"), Check: javaBuilt},
		{Name: "librdkafka: kcat", Columns: clientColumns,
			Cmd:   func(sc string) []string { return []string{"bash", "compat/kcat/scenario.sh", sc} },
			Check: func() error { return onPath("kcat") }},
		{Name: "librdkafka: confluent-kafka (Python)", Columns: clientColumns, Cmd: python("confluent_kafka_scenarios.py"), Check: venv("confluent_kafka")},
		{Name: "kafka-python", Columns: clientColumns, Cmd: python("kafka_python_scenarios.py"), Check: venv("kafka")},
		{Name: "kafkajs", Columns: clientColumns,
			Cmd: func(sc string) []string { return []string{"node", "compat/js/scenario.js", sc} },
			Check: func() error {
				if !exists(s, "compat/js/node_modules/kafkajs") {
					return errors.New("kafkajs not installed (compat/run.sh runs npm ci)")
				}
				return onPath("node")
			}},
		{Name: "franz-go", Columns: clientColumns, Cmd: goProgram("compat-go", "-client", "franz-go"), Check: goBuilt("compat-go")},
		{Name: "sarama", Columns: clientColumns, Cmd: goProgram("compat-go", "-client", "sarama"), Check: goBuilt("compat-go")},
		{Name: "segmentio/kafka-go", Columns: clientColumns, Cmd: goProgram("compat-go", "-client", "kafka-go"), Check: goBuilt("compat-go")},
		{Name: "confluent-kafka-go", Columns: clientColumns, Cmd: goProgram("compat-confluent-go", "-client", "confluent-kafka-go"), Check: goBuilt("compat-confluent-go")},
	}
	tools = []row{
		{Name: "Kafka CLI tools", Columns: cliColumns,
			Cmd: func(sc string) []string { return []string{"bash", "compat/tools/cli.sh", sc} }, Check: javaBuilt},
		{Name: "Kafka Streams", Columns: streamsColumns, Cmd: java("WordCount"), Check: javaBuilt},
		{Name: "Kafka Connect", Columns: connectColumns,
			Cmd: func(sc string) []string { return []string{"bash", "compat/tools/connect.sh", sc} }, Check: javaBuilt},
	}
	return clients, tools
}

func exists(s *suite, rel string) bool {
	_, err := os.Stat(filepath.Join(s.root, rel))
	return err == nil
}

func onPath(bin string) error {
	if _, err := exec.LookPath(bin); err != nil {
		return fmt.Errorf("%s not installed", bin)
	}
	return nil
}
