package sim

import (
	"os"
	"strconv"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// runSeed runs one seed and returns its violations.
func runSeed(t *testing.T, seed int64, steps int, trace func(string)) ([]string, Stats) {
	t.Helper()
	minISR := 2
	if seed%4 == 3 {
		minISR = 1
	}
	s, err := New(Options{Seed: seed, MinISR: minISR, Random: true, Trace: trace})
	if err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	defer s.Close()
	s.Run(steps)
	return s.Violations, s.Stats
}

// TestSimulation runs the random simulation for many seeds
// (SAMSA_SIM_SEEDS, default 500; fewer with -short) and replays one
// verbosely with SAMSA_SIM_SEED.
func TestSimulation(t *testing.T) {
	steps := 400
	if raceEnabled {
		steps = 150 // the race detector slows a step about tenfold
	}
	if v := os.Getenv("SAMSA_SIM_STEPS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatal(err)
		}
		steps = n
	}
	if v := os.Getenv("SAMSA_SIM_SEED"); v != "" {
		seed, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		vs, st := runSeed(t, seed, steps, func(line string) { t.Log(line) })
		for _, v := range vs {
			t.Error(v)
		}
		t.Log(st)
		return
	}
	seeds := 500
	if testing.Short() {
		seeds = 100
	}
	if v := os.Getenv("SAMSA_SIM_SEEDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatal(err)
		}
		seeds = n
	}
	var total Stats
	for seed := int64(1); seed <= int64(seeds); seed++ {
		vs, st := runSeed(t, seed, steps, nil)
		if len(vs) > 0 {
			t.Fatalf("%s\nreplay: SAMSA_SIM_SEED=%d go test ./internal/replication/sim -run TestSimulation -v", vs[0], seed)
		}
		total.AckedAll += st.AckedAll
		total.AckedOne += st.AckedOne
		total.Failed += st.Failed
		total.Crashes += st.Crashes
		total.Elections += st.Elections
		total.Truncations += st.Truncations
		total.MaxHW = max(total.MaxHW, st.MaxHW)
	}
	t.Logf("%d seeds of %d steps: %s", seeds, steps, total)
}
