package broker

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/samsa-streaming/samsa/internal/replica"
)

func TestMain(m *testing.M) {
	// As serve does before reading a node's configuration: the
	// coordinators' settings are known keys.
	replica.RegisterConfigs()
	goleak.VerifyTestMain(m)
}
