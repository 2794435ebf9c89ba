// Observations and raw reservoirs as Python objects: the seed's dict, numpy arrays.
// Built with CPython's and numpy's C APIs: an observation of 64 servers becomes 64 + 3 dicts
// and ~700 numbers, so per-object costs (hashing a key, growing a dict) decide the speed.
#pragma once

#include <marllb/shm.hpp>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

namespace marllb_py {

// Which count an observation dict carries: `skipped` (read_newest: published since the
// previous one returned, never returned) or `lost` (read_next: overwritten before read).
enum class ReadKind { newest, next };

// Once, at import, with the GIL held: interns the keys, builds the per-server template and
// the reservoir dtype. Raises ImportError if numpy's layout of the dtype differs from the C one.
void init_observation_objects(pybind11::module_ &m);

// {'sequence_id', 'timestamp', 'active_servers', 'server_stats': {server: {'n_flow_on',
// 'fct_mean', ...}}, 'num_active_servers', 'generation', 'skipped' | 'lost',
// 'publish_mono_ns'}: the seed's dict plus what the core adds.
[[nodiscard]] pybind11::object seed_dict(const marllb::shm::Observation &o, ReadKind kind);

// The same observation as numpy arrays over servers 0..n-1 (n = highest active + 1):
// 'n_flow_on' uint32 (n,), 'features' float32 (n, 10), 'active' bool (n,), plus the scalars.
[[nodiscard]] pybind11::object arrays_dict(const marllb::shm::Observation &o, ReadKind kind);

// numpy dtype with the layout of marllb_reservoir_data_t (a structured array of one record).
[[nodiscard]] pybind11::dtype reservoir_dtype();

// Views over a record of reservoir_dtype(): {'sequence_id', 'fct_values' (64, 128) float32,
// 'fct_timestamps' (64, 128) uint64, 'duration_values', 'duration_timestamps', 'data'}.
[[nodiscard]] pybind11::object reservoir_views(pybind11::array data, std::uint64_t seq);

} // namespace marllb_py
