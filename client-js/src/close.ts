// Close codes (docs/protocol.md, "Close codes"): what they mean to a player and whether the client
// reconnects by itself.

/** closeMessage turns a close code and reason into a readable message. */
export function closeMessage(code: number, reason: string): string {
  const why = reason !== "" ? `: ${reason}` : "";
  switch (code) {
    case 1000:
      return `connection closed${why}`;
    case 1001:
      return `server shutting down${why}`;
    case 1002:
      return `protocol error (client bug)${why}`;
    case 1003:
      return `unsupported data (client bug)${why}`;
    case 1005:
      return "connection closed without a status";
    case 1006:
      return "connection lost";
    case 1008:
      if (reason === "too slow") return "connection too slow: the server could not keep up sending to it";
      if (reason === "join timeout") return "the join took too long";
      if (reason === "ping timeout") return "connection timed out: the server heard nothing from this client";
      return `rejected by server policy${why}`;
    case 1009:
      return `message too big (client bug)${why}`;
    case 1011:
      return `server error${why}`;
    case 4001:
      return `not authorized: get a new token${why}`;
    case 4002:
      return `room closed${why}`;
    case 4003:
      return `server full: too many rooms${why}`;
    case 4004:
      // The same code answers a join-create naming a game the server does not run.
      if (reason === "unknown game") return "unknown game: the server does not run it";
      return "room not found";
    case 4005:
      // The game refused this player (its JoinFilter); the reason is the game's own words.
      return reason !== "" ? `the game refused to let you join: ${reason}` : "the game refused to let you join";
    case 4009:
      return `room full${why}`;
    case 4010:
      return `replaced by a newer session (another tab?)${why}`;
    case 4029:
      return "too many players from your address: try again when one of them leaves";
    default:
      return `connection closed (code ${code})${why}`;
  }
}

/** shouldReconnect reports whether the client reconnects by itself after this close. */
export function shouldReconnect(code: number, reason: string): boolean {
  switch (code) {
    case 1001:
    case 1006:
    case 1011:
    case 4003:
    case 4009:
    case 4029:
      return true;
    case 1008:
      return reason === "too slow" || reason === "join timeout" || reason === "ping timeout";
    case 4005: // join refused by the game: asking again gets the same answer
    default:
      return false;
  }
}

/** reconnectsLater reports codes worth a longer wait (the server or room is full or failing). */
export function reconnectsLater(code: number): boolean {
  return code === 1011 || code === 4003 || code === 4009 || code === 4029;
}
