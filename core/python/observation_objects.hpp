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

// The `server_stats` dicts of earlier results, kept to be refilled instead of rebuilt: 64 server
// dicts of 11 numbers cost ~10 us to allocate, fill and later free, ~3 us to refill.
//
// Why a refill is never seen: the pool holds one reference to each kept dict. A kept dict whose
// reference count is 1 is reachable from nothing but the pool (the caller dropped the result
// holding it and kept no part of it), so changing it changes nothing any Python code can
// reach. The same holds one level down: a server dict or a float is changed in place only when
// its own count is 1 (held by its refilled parent alone); anything else a caller kept (a server
// dict, a number) is replaced, never changed. Every check and change runs with the GIL held,
// so no other thread takes a reference in between; and a dict being refilled is out of the
// pool, so Python code the refill itself runs (a finalizer, a garbage collection) cannot be
// handed it by a re-entrant read or free it by close(). Two kept dicts cover the usual loop
// `obs = region.read_observation()`, where the previous result is still bound to `obs` while
// the call runs and the one before it is free.
class SeedDictPool {
public:
    // A server_stats dict filled from `msg`: a refilled kept one, or a new one that is kept.
    [[nodiscard]] pybind11::object stats_for(const marllb_msg_out_t &msg);
    void clear() { kept_[0] = kept_[1] = {}; }

private:
    pybind11::object kept_[2];
    unsigned next_ = 0; // the entry a new dict replaces when neither is free
};

// {'sequence_id', 'timestamp', 'active_servers', 'server_stats': {server: {'n_flow_on',
// 'fct_mean', ...}}, 'num_active_servers', 'generation', 'skipped' | 'lost',
// 'publish_mono_ns'}: the seed's dict plus what the core adds. Each call returns new outer
// dict and list objects; server_stats may be a refilled dict of an earlier result that no
// Python code can reach any more (see SeedDictPool).
[[nodiscard]] pybind11::object seed_dict(const marllb::shm::Observation &o, ReadKind kind, SeedDictPool &pool);

// The same observation as numpy arrays over servers 0..n-1 (n = highest active + 1):
// 'n_flow_on' uint32 (n,), 'features' float32 (n, 10), 'active' bool (n,), plus the scalars.
[[nodiscard]] pybind11::object arrays_dict(const marllb::shm::Observation &o, ReadKind kind);

// numpy dtype with the layout of marllb_reservoir_data_t (a structured array of one record).
[[nodiscard]] pybind11::dtype reservoir_dtype();

// Views over a record of reservoir_dtype(): {'sequence_id', 'fct_values' (64, 128) float32,
// 'fct_timestamps' (64, 128) uint64, 'duration_values', 'duration_timestamps', 'data'}.
[[nodiscard]] pybind11::object reservoir_views(pybind11::array data, std::uint64_t seq);

} // namespace marllb_py
