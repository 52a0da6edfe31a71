//! Deterministic synthetic workload generator. (Stub: lands next.)
