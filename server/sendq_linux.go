//go:build linux

package server

import (
	"syscall"
	"unsafe"
)

// sendQueue reads how many bytes a TCP socket holds that its peer has not acknowledged
// (ioctl SIOCOUTQ, which is TIOCOUTQ's number): the kernel reads two sequence numbers without
// taking the socket lock.
type sendQueue struct {
	rc    syscall.RawConn
	probe func(fd uintptr) // made once, so a Control call does not allocate
	n     int32
	errno syscall.Errno
}

func newSendQueue(rc syscall.RawConn) *sendQueue {
	q := &sendQueue{rc: rc}
	q.probe = func(fd uintptr) {
		_, _, q.errno = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCOUTQ, uintptr(unsafe.Pointer(&q.n)))
	}
	return q
}

// unacked returns the bytes written to the socket that the peer has not acknowledged yet;
// false when the socket cannot say (closed).
func (q *sendQueue) unacked() (int, bool) {
	if err := q.rc.Control(q.probe); err != nil || q.errno != 0 {
		return 0, false
	}
	return int(q.n), true
}
