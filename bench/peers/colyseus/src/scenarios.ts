// The scenarios of docs/benchmark.md, by name.
export interface Scenario {
  entities: number;
  clients: number;
  hz: number;
  // Load-client clients that decode patches (RTT, decode time); the others count bytes only.
  // Sized so that decoding stays around 10% of a core (B: ≈0.5 ms per patch, C: ≈5 ms).
  probes: number;
}

export const SCENARIOS: Record<string, Scenario> = {
  A: { entities: 200, clients: 50, hz: 20, probes: 50 },
  B: { entities: 1000, clients: 200, hz: 20, probes: 10 },
  B60: { entities: 1000, clients: 200, hz: 60, probes: 4 },
  B128: { entities: 1000, clients: 100, hz: 128, probes: 2 },
  C: { entities: 5000, clients: 100, hz: 20, probes: 2 },
};
