package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLoadgenProtocol drives a load generator over its command protocol in memory.
func TestLoadgenProtocol(t *testing.T) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- runLoadgen(ctx, loadgenConfig{FloorAddr: "127.0.0.1:1", InputHz: 20, Dial: dialRaw}, inR, outW)
		outW.Close()
	}()
	lines := bufio.NewScanner(outR)
	next := func() envelope {
		t.Helper()
		require.True(t, lines.Scan())
		var e envelope
		require.NoError(t, json.Unmarshal(lines.Bytes(), &e))
		return e
	}
	send := func(cmd string) {
		t.Helper()
		_, err := io.WriteString(inW, cmd+"\n")
		require.NoError(t, err)
	}
	assert.Equal(t, evReady, next().Event)
	tests := []struct {
		cmd, event string
	}{
		{"join r1 two 1", evError},
		{"join r1 1", evError},
		{"join floor 1 1", evError}, // nothing listens on port 1
		{"dance", evError},
		{"start", evStarted},
		{"stop", evReport},
	}
	for _, tc := range tests {
		t.Run(tc.cmd, func(t *testing.T) {
			send(tc.cmd)
			e := next()
			assert.Equal(t, tc.event, e.Event, e.Error)
		})
	}
	send("quit")
	require.NoError(t, <-done)
}
