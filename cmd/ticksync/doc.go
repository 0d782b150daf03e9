// Command ticksync is the project's own binary, a cli.Program like any game's:
//
//	ticksync serve [flags]        host rooms of arena over HTTP and WebSocket, the demo at /
//	ticksync token [flags]        mint an HMAC join token with the shared secret
//	ticksync replay info FILE     describe a recording (complete, or torn and where)
//	ticksync replay verify FILE   re-simulate a recording and check every tick's hash
//	ticksync replay serve FILE…   serve recordings to the viewer
//	ticksync bench [flags]        measure the server on the reference workload (docs/benchmark.md)
//
// The server knows no game: this binary registers arena and mounts the demo and viewer pages
// of package web. Run any subcommand with -h for its flags.
package main
