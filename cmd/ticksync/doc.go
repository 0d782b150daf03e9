// Command ticksync is the project's one binary.
//
//	ticksync serve [flags]        host rooms (arena built in) over HTTP and WebSocket
//	ticksync token [flags]        mint an HMAC join token with the shared secret
//	ticksync replay info FILE     describe a recording (complete, or torn and where)
//	ticksync replay verify FILE   re-simulate a recording and check every tick's hash
//	ticksync replay serve FILE…   serve recordings to the viewer
//
// The bench subcommand is still to come. Run any subcommand with -h for its flags.
package main
