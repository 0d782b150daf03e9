package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	client "github.com/ticksync/ticksync/client-go"
	"github.com/ticksync/ticksync/sim"
)

// A bot joins the arena room, steers, and reads NPC positions from its mirror of the state.
// (No Output: it needs a running server, e.g. `ticksync serve`.)
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, "ws://127.0.0.1:8080/ws", client.Options{
		Room: "lobby", Game: "arena", CreateIfMissing: true,
	})
	if err != nil {
		var he *client.HandshakeError
		var ce *client.CloseError
		switch {
		case errors.As(err, &he): // refused before the upgrade: 401, 403, 429…
			log.Fatalf("refused: %d %s", he.StatusCode, he.Body)
		case errors.As(err, &ce): // closed after it: 4004 room not found, 4009 room full…
			log.Fatalf("closed: %d %s", ce.Code, ce.Reason)
		}
		log.Fatal(err)
	}
	defer c.Close()

	// Handles are resolved once from the welcome's schema.
	npc, err := c.Class("npc")
	if err != nil {
		log.Fatal(err)
	}
	x, err := c.Field("npc", "x")
	if err != nil {
		log.Fatal(err)
	}

	seq, err := c.SendInput(100*100, 0) // vx = 100 units/s in the input's fixed-point scale
	if err != nil {
		log.Fatal(err)
	}
	// Wait for the frame that shows the input applied.
	err = c.WaitFrame(ctx, func(_ *sim.State, f client.FrameInfo) bool { return f.LastInputSeq >= seq })
	if err != nil {
		log.Fatal(err)
	}
	c.WithState(func(st *sim.State) {
		for _, e := range client.Entities(st, npc) {
			fmt.Printf("npc %d at x=%d\n", e, st.Value(e, x))
		}
	})
	rtt, err := c.Ping(ctx)
	if err == nil {
		fmt.Println("rtt", rtt)
	}
}

// After a dropped connection, Reconnect resumes the seat with the welcome's resume token; the
// first frame is a delta from the tick the client holds.
func ExampleClient_Reconnect() {
	ctx := context.Background()
	c, err := client.Dial(ctx, "ws://127.0.0.1:8080/ws", client.Options{Room: "lobby"})
	if err != nil {
		log.Fatal(err)
	}
	<-c.Done()
	if c.CloseInfo().Reconnect() { // 1006 lost, 1001 shutdown, 1008 "ping timeout"…
		c2, err := c.Reconnect(ctx)
		if err != nil {
			log.Fatal(err)
		}
		defer c2.Close()
		fmt.Println("resumed as player", c2.PlayerID(), "at tick", c2.Tick())
	}
}

// The load generator counts frames without decoding them and measures input round trips.
func ExampleOptions_countOnly() {
	ctx := context.Background()
	c, err := client.Dial(ctx, "ws://127.0.0.1:8080/ws", client.Options{
		Room: "bench", CountOnly: true,
		OnInputApplied: func(seq uint32, rtt time.Duration) { fmt.Println(seq, rtt) },
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	for range 20 {
		if _, err := c.SendInput(0, 0); err != nil {
			log.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	n := c.Counters()
	fmt.Println(n.Frames, n.BytesIn, n.FirstFrameBytes)
}
