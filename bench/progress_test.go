package bench

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestProgress(t *testing.T) {
	var b syncWriter
	var buf bytes.Buffer
	b.w = &buf
	p := &progress{w: &b}
	p.phase("measuring B", 20*time.Second)
	p.phase("joining", 0)
	p.end()
	p.end() // twice is fine
	out := buf.String()
	assert.Contains(t, out, "\rmeasuring B")
	assert.Contains(t, out, "[....")
	assert.Contains(t, out, "\rjoining")
	assert.True(t, strings.HasSuffix(out, "\n"))

	buf.Reset()
	plain := &progress{w: &b, plain: true}
	plain.phase("warm-up", 3*time.Second)
	plain.end()
	assert.Equal(t, "ticksync bench: warm-up (3s)\n", buf.String())

	var silent *progress
	silent.phase("x", time.Second) // a nil progress draws nothing
	silent.end()
}
