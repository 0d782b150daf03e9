// Command ticksync is the project's one binary.
//
//	ticksync serve [flags]   host rooms (arena built in) over HTTP and WebSocket
//	ticksync token [flags]   mint an HMAC join token with the shared secret
//
// replay and bench subcommands are still to come. Run any subcommand with -h for its flags.
package main
