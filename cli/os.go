package cli

import (
	"os"
	"os/signal"
	"syscall"
)

// notifySecond delivers the next SIGINT/SIGTERM to c (the first one started the shutdown).
func notifySecond(c chan<- os.Signal) { signal.Notify(c, os.Interrupt, syscall.SIGTERM) }

// openFileLimit returns the process's soft open-file limit.
func openFileLimit() (uint64, bool) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, false
	}
	return r.Cur, true
}
