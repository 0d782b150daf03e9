package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestServeMountsGamesAndPages: the server knows no game and has no pages; `ticksync serve`
// brings both. A POST /rooms naming no game runs arena (the binary's only game), "/" is the
// demo and "/replay" the viewer, byte for byte the files of package web.
func TestServeMountsGamesAndPages(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var stderr bytes.Buffer
	code := make(chan int, 1)
	go func() {
		code <- program().Run(ctx, []string{"serve", "-addr", "127.0.0.1:0", "-log-level", "warn", "-record-dir", t.TempDir()}, func(string) string { return "" }, pw, &stderr)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(line, "ticksync serving on http://127.0.0.1:"), line)
	url := strings.Fields(line)[3]
	go io.Copy(io.Discard, pr)

	for path, file := range map[string]string{"/": "index.html", "/replay": "replay.html"} {
		resp, err := http.Get(url + path)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		want, err := os.ReadFile(filepath.Join("..", "..", "web", file))
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, resp.StatusCode, path)
		assert.Equal(t, string(want), string(body), "%s serves web/%s", path, file)
	}

	resp, err := http.Post(url+"/rooms", "application/json", strings.NewReader(`{"id":"g"}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	resp, err = http.Get(url + "/rooms")
	require.NoError(t, err)
	var rooms []struct{ ID, Game string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&rooms))
	resp.Body.Close()
	require.Len(t, rooms, 1)
	assert.Equal(t, "arena", rooms[0].Game)

	cancel()
	select {
	case c := <-code:
		assert.Equal(t, 0, c, stderr.String())
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}
}

// TestProgram: the binary's registry holds arena, and only it; it adds bench to cli's commands.
func TestProgram(t *testing.T) {
	p := program()
	assert.Equal(t, []string{"arena"}, p.Games.Names())
	assert.Equal(t, "ticksync", p.Name)
	require.Len(t, p.Commands, 1)
	assert.Equal(t, "bench", p.Commands[0].Name)
}
