//go:build !linux

package server

import "syscall"

// sendQueue would read a socket's unacknowledged bytes; only Linux's SIOCOUTQ is used, so
// elsewhere the lag is measured from the writer alone (and SendBuffer still caps memory).
type sendQueue struct{}

func newSendQueue(syscall.RawConn) *sendQueue { return nil }

func (*sendQueue) unacked() (int, bool) { return 0, false }
