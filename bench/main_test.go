package bench

import (
	"context"
	"os"
	"testing"
)

// envAsMain makes the test binary act as `ticksync` for the processes a run starts: with it
// set, `<test binary> bench …` runs Main, so the floor and the load generators can be tested
// without cmd/ticksync.
const envAsMain = "TICKSYNC_BENCH_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(envAsMain) == "1" && len(os.Args) > 1 && os.Args[1] == "bench" {
		os.Exit(Main(context.Background(), os.Args[2:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}
