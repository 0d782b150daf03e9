package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/ticksync/ticksync/auth"
)

// defaultTokenTTL is a join token's life: long enough to connect, short enough that a leaked
// URL is soon worthless (docs/protocol.md, "Tokens": join tokens live 60 s).
const defaultTokenTTL = 60 * time.Second

func runToken(p *Program, args []string, env func(string) string, stdout, stderr io.Writer) int {
	fs := newFlagSet("token", "usage: "+p.Name+` token -room ID|* [-game NAME] [-player N] [-role player|spectator|admin] [-meta JSON] [-ttl 60s]

Mints an HMAC-SHA256 join token with the server's shared secret and prints it.
Clients pass it as /ws?token=...; admin tokens also authorize POST /rooms and
POST /admin/close (Authorization: Bearer ...). A token for one room joins that
room only; -room '*' -game NAME makes a game-scoped token, which joins any room
of that game by id or by quick play (which may create one).`, "", stderr)
	room := fs.String("room", "", "room `id` the token is valid for (\"*\": every room for admin, every room of -game otherwise)")
	game := fs.String("game", "", "game `name` (a game-scoped token's game; the game an admin join creates the room with)")
	player := fs.Uint("player", 0, "player `id` (required for role player)")
	role := fs.String("role", "player", "`role`: player, spectator or admin")
	meta := fs.String("meta", "", "the player's metadata for the game (`JSON`, e.g. {\"name\":\"ann\",\"team\":\"red\"})")
	ttl := fs.Duration("ttl", defaultTokenTTL, "token lifetime")
	secretFile := fs.String("auth-secret-file", "", "`file` holding the secret (else $"+auth.EnvSecret+")")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	secret, err := auth.LoadSecret(*secretFile, env)
	if err != nil {
		fmt.Fprintf(stderr, p.Name+" token: %v\n", err)
		return 2
	}
	if *player > 1<<31-1 {
		fmt.Fprintln(stderr, p.Name+" token: -player out of range")
		return 2
	}
	if *ttl <= 0 {
		fmt.Fprintln(stderr, p.Name+" token: -ttl must be positive")
		return 2
	}
	tok, err := auth.Mint(secret, auth.Claims{
		Kind: auth.KindJoin, Room: *room, Game: *game, Player: uint32(*player), Role: auth.Role(*role),
		Expiry: time.Now().Add(*ttl).Unix(), Meta: *meta,
	})
	if err != nil {
		fmt.Fprintf(stderr, p.Name+" token: %v\n", err)
		return 2
	}
	fmt.Fprintln(stdout, tok)
	return 0
}
