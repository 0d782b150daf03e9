// The scenarios of docs/benchmark.md, by name.
export interface Scenario {
  entities: number;
  clients: number;
  hz: number;
  // Load-client clients that decode patches (RTT, decode time); the others count bytes only.
  // Sized so that decoding stays around 10% of a core (B: ≈0.5 ms per patch, C: ≈5 ms).
  probes: number;
  world: number; // side of the square world, units
  view: number; // side of the square each player sees, centred on it; 0: every client gets everything
  cell: number; // side of a grid cell (views only): a player sees the cells overlapping its square
}

const ARENA = { world: 1000, view: 0, cell: 0 };

export const SCENARIOS: Record<string, Scenario> = {
  A: { entities: 200, clients: 50, hz: 20, probes: 50, ...ARENA },
  B: { entities: 1000, clients: 200, hz: 20, probes: 10, ...ARENA },
  B60: { entities: 1000, clients: 200, hz: 60, probes: 4, ...ARENA },
  B128: { entities: 1000, clients: 100, hz: 128, probes: 2, ...ARENA },
  C: { entities: 5000, clients: 100, hz: 20, probes: 2, ...ARENA },
  // A big world with interest management: each client sees ≈ 200 entities (its 400 × 400
  // square; ≈ 310 in the 5 × 5 cells overlapping it), through Colyseus' StateView.
  D: { entities: 20000, clients: 500, hz: 20, probes: 20, world: 4000, view: 400, cell: 100 },
};
